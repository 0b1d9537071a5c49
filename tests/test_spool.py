from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from audit_heka.spool import (
    DiskSpool,
    FullAction,
    MemorySpool,
    SpoolError,
    SpoolRecord,
    decode_record,
    encode_record,
    valid_end,
)


def frames(n: int, start: int = 0, size: int = 60) -> list[bytes]:
    return [(b"%08d" % i).ljust(size, b"x") for i in range(start, start + n)]


def drain(spool: DiskSpool | MemorySpool, release: bool = True) -> list[bytes]:
    out = []
    last: SpoolRecord | None = None
    while (record := spool.read_next()) is not None:
        out.append(record.frame)
        last = record
    if release and last is not None:
        spool.release(last)
    return out


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def test_record_codec_detects_damage() -> None:
    data = encode_record(7, b"hello")
    assert decode_record(data, 0) == (7, b"hello", len(data))
    assert decode_record(data[:-1], 0) is None
    damaged = bytearray(data)
    damaged[-1] ^= 1
    assert decode_record(bytes(damaged), 0) is None
    assert valid_end(data + data[:10]) == (len(data), 7)


def test_append_read_release_and_restart(tmp_path: Path) -> None:
    directory = tmp_path / "missing" / "spool"
    s = DiskSpool(directory, max_bytes=1 << 20, segment_bytes=4096)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    data = frames(300)
    for f in data:
        assert s.append(f)
    got = []
    for _ in range(100):
        record = s.read_next()
        assert record is not None
        got.append(record.frame)
        s.release(record)
    # Read ahead without releasing, then rewind: the unreleased ones come again.
    for _ in range(50):
        assert s.read_next() is not None
    s.rewind()
    assert s.read_next() == SpoolRecord(100, data[100], *_pos(s, 100))
    s.close()
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in directory.iterdir())
    # Released segments are reclaimed: the first one is gone.
    assert segments(directory)[0].name != f"{0:020d}.seg"

    s = DiskSpool(directory, max_bytes=1 << 20, segment_bytes=4096)
    assert got == data[:100]
    assert drain(s) == data[100:]
    assert not s.pending()
    for f in frames(5, 300):
        s.append(f)
    assert drain(s) == frames(5, 300)
    s.close()


def _pos(s: DiskSpool, seq: int) -> tuple[int, int]:
    s.rewind()
    record = s.read_next()
    assert record is not None and record.seq == seq
    s.rewind()
    return record.segment, record.next_offset


def test_crash_without_close_resends_since_last_cursor(tmp_path: Path) -> None:
    s = DiskSpool(tmp_path, max_bytes=1 << 20, cursor_every=10)
    for f in frames(50):
        s.append(f)
    for _ in range(25):
        record = s.read_next()
        assert record is not None
        s.release(record)
    # No close (crash): the cursor was saved at 20 released frames.
    s._release_lock()
    again = DiskSpool(tmp_path, max_bytes=1 << 20)
    assert drain(again) == frames(30, 20)
    again.close()


def test_torn_tail_is_truncated_and_counted(tmp_path: Path) -> None:
    s = DiskSpool(tmp_path, max_bytes=1 << 20)
    for f in frames(10):
        s.append(f)
    s.close()
    seg = segments(tmp_path)[-1]
    whole = seg.stat().st_size
    with seg.open("ab") as fh:
        fh.write(encode_record(10, b"torn frame")[:15])
    s = DiskSpool(tmp_path, max_bytes=1 << 20)
    assert s.counters["corrupt"] == 1
    assert seg.stat().st_size == whole
    s.append(b"after")
    assert drain(s) == [*frames(10), b"after"]
    s.close()


def test_corrupt_record_in_the_middle_is_skipped(tmp_path: Path) -> None:
    s = DiskSpool(tmp_path, max_bytes=1 << 20)
    for f in frames(10):
        s.append(f)
    s.close()
    seg = segments(tmp_path)[-1]
    raw = bytearray(seg.read_bytes())
    size = len(encode_record(0, frames(1)[0]))
    raw[3 * size + 30] ^= 0xFF  # damage the 4th record's frame
    seg.write_bytes(bytes(raw))
    s = DiskSpool(tmp_path, max_bytes=1 << 20)
    assert drain(s) == frames(3) + frames(6, 4)
    assert s.counters["corrupt"] == 1
    s.close()


def test_corrupt_cursor_means_resend_not_loss(tmp_path: Path) -> None:
    s = DiskSpool(tmp_path, max_bytes=1 << 20)
    for f in frames(5):
        s.append(f)
    drain(s)
    s.close()
    (tmp_path / "cursor").write_bytes(b"garbage")
    s = DiskSpool(tmp_path, max_bytes=1 << 20)
    assert s.counters["corrupt"] == 1
    assert drain(s) == frames(5)
    s.close()


def test_second_process_is_refused(tmp_path: Path) -> None:
    s = DiskSpool(tmp_path)
    with pytest.raises(SpoolError, match="in use by another process"):
        DiskSpool(tmp_path)
    s.close()


def test_full_block(tmp_path: Path) -> None:
    s = DiskSpool(tmp_path, max_bytes=8192, full_action=FullAction.BLOCK)
    accepted = 0
    for f in frames(200):
        if not s.append(f):
            break
        accepted += 1
    assert 80 <= accepted < 200
    assert s.counters["spool_full"] == 1
    assert s.used_bytes() <= 8192
    drain(s)  # released: room again (segments reclaimed)
    assert s.append(b"more")
    s.close()


def test_full_drop_newest(tmp_path: Path) -> None:
    s = DiskSpool(tmp_path, max_bytes=8192, full_action=FullAction.DROP_NEWEST)
    for f in frames(200):
        assert s.append(f)
    kept = drain(s)
    assert kept == frames(len(kept))
    assert len(kept) + s.counters["spool_drops_newest"] == 200
    assert s.used_bytes() <= 8192
    s.close()


def test_full_drop_oldest(tmp_path: Path) -> None:
    s = DiskSpool(tmp_path, max_bytes=8192, full_action=FullAction.DROP_OLDEST)
    for f in frames(200):
        assert s.append(f)
        assert s.used_bytes() <= 8192
    kept = drain(s)
    assert kept == frames(len(kept), 200 - len(kept))
    assert len(kept) + s.counters["spool_drops_oldest"] == 200
    s.close()


def test_memory_spool_policies() -> None:
    for action, counter in (
        (FullAction.DROP_OLDEST, "spool_drops_oldest"),
        (FullAction.DROP_NEWEST, "spool_drops_newest"),
    ):
        m = MemorySpool(max_bytes=800, full_action=action)
        for f in frames(20):
            assert m.append(f)
        kept = drain(m)
        assert len(kept) + m.counters[counter] == 20
    m = MemorySpool(max_bytes=800)
    assert sum(m.append(f) for f in frames(20)) == 10
    assert m.counters["spool_full"] == 10


def test_enospc_falls_back_to_memory_then_back_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    s = DiskSpool(tmp_path, max_bytes=1 << 20, retry_disk_after=1.0, clock=lambda: now[0])
    for f in frames(5):
        s.append(f)
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("audit_heka.spool.os.write", full)
    for f in frames(5, 5):
        assert s.append(f)
    assert s.counters["spool_errors"] == 1
    assert s.counters["spool_memory_mode"] == 1
    monkeypatch.setattr("audit_heka.spool.os.write", real_write)
    assert drain(s) == frames(10)  # disk records first, then memory, in order
    now[0] = 2.0
    s.append(b"back on disk")
    assert s.counters["spool_memory_mode"] == 0
    assert drain(s) == [b"back on disk"]
    s.close()
    # The tail segment on disk is intact (no torn record from the failed writes).
    assert DiskSpool(tmp_path).counters["corrupt"] == 0


def test_unusable_directory_is_counted_not_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    s = DiskSpool(blocker / "spool", max_bytes=1 << 20)
    assert s.counters["spool_errors"] == 1 and s.counters["spool_memory_mode"] == 1
    assert s.append(b"kept in memory")
    assert drain(s) == [b"kept in memory"]
    s.close()


def test_bad_full_action_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="accepted: block, drop-oldest, drop-newest"):
        FullAction.parse("discard")
