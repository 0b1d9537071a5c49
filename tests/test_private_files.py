"""Spool and status files: private directories, 0600 files, planted symlinks never followed."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit_heka.daemon import write_status_file
from audit_heka.delivery import Delivery, DeliveryConfig
from audit_heka.outputs.target import parse_target
from audit_heka.private_files import (
    UnsafePathError,
    dir_problem,
    ensure_private_dir,
    hand_over,
    open_private,
)
from audit_heka.spool import DiskSpool, SpoolError

NOBODY = 65534


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_dir_problem_is_pure(tmp_path: Path) -> None:
    st = tmp_path.lstat()
    me = os.geteuid()
    tmp_path.chmod(0o700)
    assert dir_problem(tmp_path.lstat(), {me}) is None
    assert "owned by uid" in (dir_problem(st, {me + 1}) or "")
    tmp_path.chmod(0o777)
    assert "world-writable" in (dir_problem(tmp_path.lstat(), {me}) or "")
    tmp_path.chmod(0o770)
    assert "group-writable" in (dir_problem(tmp_path.lstat(), {me}) or "")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    assert dir_problem(link.lstat(), {me}) == "is a symbolic link"
    (tmp_path / "f").write_text("")
    assert dir_problem((tmp_path / "f").lstat(), {me}) == "is not a directory"


def test_spool_files_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path / "a" / "spool", max_bytes=1 << 20)
    spool.append(b"frame")
    record = spool.read_next()
    assert record is not None
    spool.release(record)
    spool.close()
    directory = tmp_path / "a" / "spool"
    assert mode(directory) == 0o700
    names = sorted(p.name for p in directory.iterdir())
    assert "lock" in names and "cursor" in names and any(n.endswith(".seg") for n in names)
    for path in directory.iterdir():
        assert mode(path) == 0o600, path


@pytest.mark.parametrize("bits", [0o777, 0o1777, 0o770, 0o702])
def test_spool_refuses_a_writable_directory(tmp_path: Path, bits: int) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    directory.chmod(bits)
    with pytest.raises(SpoolError, match=r"writable \(mode \d{4}\): refusing"):
        DiskSpool(directory, max_bytes=1 << 20)
    assert not (directory / "lock").exists()


def test_spool_refuses_a_directory_owned_by_another_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    directory = tmp_path / "spool"
    directory.mkdir(mode=0o700)
    os.chown(directory, NOBODY, NOBODY)
    with pytest.raises(SpoolError, match=f"owned by uid {NOBODY}"):
        DiskSpool(directory, max_bytes=1 << 20)
    # ... unless that user is the one `run --user` drops to.
    DiskSpool(directory, max_bytes=1 << 20, owners={0, NOBODY}).close()


def test_spool_refuses_a_symlinked_directory(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "spool").symlink_to(real)
    with pytest.raises(SpoolError, match="symbolic link"):
        DiskSpool(tmp_path / "spool", max_bytes=1 << 20)


@pytest.mark.parametrize("name", ["lock", "cursor", "00000000000000000000.seg"])
def test_planted_symlink_in_the_spool_is_refused_not_followed(tmp_path: Path, name: str) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    directory = tmp_path / "spool"
    directory.mkdir(mode=0o700)
    (directory / name).symlink_to(victim)
    with pytest.raises(SpoolError, match="symbolic link"):
        spool = DiskSpool(directory, max_bytes=1 << 20)
        spool.append(b"x" * 100)
        spool.close()
    assert victim.read_bytes() == b"precious"


def test_planted_symlinks_at_temporaries_are_replaced_not_written(tmp_path: Path) -> None:
    """cursor.tmp and probe.tmp are written at run time: unlinked and recreated, never followed."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    directory = tmp_path / "spool"
    spool = DiskSpool(directory, max_bytes=1 << 20, cursor_every=1)
    (directory / "cursor.tmp").symlink_to(victim)
    for i in range(5):
        spool.append(b"frame %d" % i)
    while (record := spool.read_next()) is not None:
        spool.release(record)
    spool.close()
    assert victim.read_bytes() == b"precious"
    assert not (directory / "cursor.tmp").is_symlink()
    assert (directory / "cursor").stat().st_size > 0


def test_planted_segment_symlink_at_run_time_degrades_not_follows(tmp_path: Path) -> None:
    """A symlink appearing where the next segment goes: counted, memory mode, victim intact."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    directory = tmp_path / "spool"
    spool = DiskSpool(directory, max_bytes=64 * 1024, segment_bytes=1024)
    spool.append(b"a" * 600)
    # the next append rotates to a segment named after seq 1
    (directory / "00000000000000000001.seg").symlink_to(victim)
    assert spool.append(b"b" * 600)
    assert spool.counters["spool_memory_mode"] == 1
    spool.close()
    assert victim.read_bytes() == b"precious"


def test_delivery_refuses_a_world_writable_spool_root(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    root.mkdir()
    root.chmod(0o777)
    config = DeliveryConfig(spool_dir=root)
    with pytest.raises(SpoolError, match="world-writable"):
        Delivery.open([parse_target(f"file:{tmp_path / 'out'}")], config)


def test_delivery_accepts_an_operator_symlink_to_a_private_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "spool").symlink_to(real)
    delivery = Delivery.open(
        [parse_target(f"file:{tmp_path / 'out'}")], DeliveryConfig(spool_dir=tmp_path / "spool")
    )
    delivery.close(1.0)
    assert any(real.iterdir())


def test_status_file_never_written_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    status = tmp_path / "status.json"
    status.symlink_to(victim)
    (tmp_path / f".status.json.{os.getpid()}").symlink_to(victim)
    write_status_file(status, {"pid": 1})
    assert victim.read_text() == "precious"
    assert not status.is_symlink() and mode(status) == 0o600
    assert '"pid": 1' in status.read_text()


def test_status_file_never_truncates_a_planted_hard_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.link(victim, tmp_path / f".status.json.{os.getpid()}")
    write_status_file(tmp_path / "status.json", {"pid": 1})
    assert victim.read_text() == "precious"


def test_ensure_private_dir_creates_0700_and_refuses_shared(tmp_path: Path) -> None:
    ensure_private_dir(tmp_path / "x" / "y")
    assert mode(tmp_path / "x" / "y") == 0o700
    with pytest.raises(UnsafePathError, match="world-writable"):
        ensure_private_dir(Path("/tmp"))


def test_open_private_refuses_symlinks_and_fifos(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        open_private(tmp_path / "link", os.O_WRONLY | os.O_CREAT)
    assert not (tmp_path / "target").exists()
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        open_private(tmp_path / "fifo", os.O_RDONLY)


@pytest.fixture
def reachable() -> Iterator[Path]:
    """A directory `nobody` can traverse (pytest's tmp_path is under a 0700 root dir)."""
    base = Path(tempfile.mkdtemp(prefix="audit-heka-pf-", dir="/tmp"))
    base.chmod(0o711)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_hand_over_only_private_directories(reachable: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    tmp_path = reachable
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    with pytest.raises(UnsafePathError, match="not private"):
        hand_over(shared, NOBODY, NOBODY, recursive=True)
    assert shared.stat().st_uid == 0
    private = tmp_path / "private"
    (private / "sub").mkdir(parents=True, mode=0o700)
    private.chmod(0o700)
    (private / "sub" / "seg").write_text("")
    victim = tmp_path / "victim"
    victim.write_text("")
    (private / "link").symlink_to(victim)
    hand_over(private, NOBODY, NOBODY, recursive=True)
    assert {p.stat(follow_symlinks=False).st_uid for p in [private, private / "sub",
                                                           private / "sub" / "seg"]} == {NOBODY}
    assert victim.stat().st_uid == 0, "a symlink's target was chowned"


def test_hand_over_refuses_a_directory_the_user_cannot_reach(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    closed = tmp_path / "closed"  # like /var/lib/audit-heka (0700 root) around a spool
    (closed / "spool").mkdir(parents=True, mode=0o700)
    closed.chmod(0o700)
    with pytest.raises(UnsafePathError, match="could not reach it"):
        hand_over(closed / "spool", NOBODY, NOBODY, recursive=True)
    assert (closed / "spool").stat().st_uid == 0
