"""Status and private files: private directories, 0600 files, planted symlinks never followed."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit_heka.host.private_files import (
    UnsafePathError,
    dir_problem,
    ensure_private_dir,
    hand_over,
    open_private,
    write_private_json,
)

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


def test_status_file_never_written_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    status = tmp_path / "status.json"
    status.symlink_to(victim)
    (tmp_path / f".status.json.{os.getpid()}").symlink_to(victim)
    write_private_json(status, {"pid": 1})
    assert victim.read_text() == "precious"
    assert not status.is_symlink() and mode(status) == 0o600
    assert '"pid": 1' in status.read_text()


def test_status_file_never_truncates_a_planted_hard_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.link(victim, tmp_path / f".status.json.{os.getpid()}")
    write_private_json(tmp_path / "status.json", {"pid": 1})
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
