"""Dropping root after start-up, keeping only the audit capabilities.

audit-heka needs root to open the audit socket, register as the audit
daemon, bind privileged ports and create its spool. After that it needs
only CAP_AUDIT_CONTROL (to reload rules and reset counters on SIGHUP) and,
in multicast mode, CAP_AUDIT_READ. Everything else is dropped: the bounding
set (so no exec can regain it), the groups, the uid/gid, and
``no_new_privs`` is set. This is an I/O edge (it calls prctl/capset through
libc); the plan of what to keep is computed by a pure function.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import grp
import os
import pwd
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# linux/capability.h
CAP_SETGID = 6
CAP_SETUID = 7
CAP_SETPCAP = 8
CAP_NET_BIND_SERVICE = 10
CAP_AUDIT_WRITE = 29
CAP_AUDIT_CONTROL = 30
CAP_AUDIT_READ = 37
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# linux/prctl.h
_PR_CAPBSET_DROP = 24
_PR_SET_KEEPCAPS = 8
_PR_SET_NO_NEW_PRIVS = 38

CAPABILITY_NAMES = {
    CAP_NET_BIND_SERVICE: "cap_net_bind_service",
    CAP_AUDIT_WRITE: "cap_audit_write",
    CAP_AUDIT_CONTROL: "cap_audit_control",
    CAP_AUDIT_READ: "cap_audit_read",
}


class PrivilegeError(Exception):
    """The process could not change its credentials as asked."""


@dataclass(frozen=True, slots=True)
class DropPlan:
    """Who to become and which capabilities to keep."""

    uid: int
    gid: int
    keep: frozenset[int]

    @property
    def mask(self) -> int:
        """The capability bitmask (as in /proc/PID/status CapEff) of ``keep``."""
        bits = 0
        for cap in self.keep:
            bits |= 1 << cap
        return bits


def plan_drop(user: str, *, multicast: bool, extra: Iterable[int] = ()) -> DropPlan:
    """Resolve ``user`` and decide the capabilities the daemon still needs."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise PrivilegeError(f"unknown user {user!r}") from None
    keep = {CAP_AUDIT_CONTROL, *extra}
    if multicast:
        keep.add(CAP_AUDIT_READ)
    return DropPlan(entry.pw_uid, entry.pw_gid, frozenset(keep))


def last_capability() -> int:
    """The highest capability number this kernel knows."""
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 40


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise PrivilegeError(f"{what} failed: {os.strerror(err)}")


def drop_privileges(plan: DropPlan) -> None:
    """Become ``plan.uid``/``plan.gid`` keeping only ``plan.keep`` capabilities.

    Must run as root. Irreversible, by design.
    """
    if os.geteuid() != 0:
        raise PrivilegeError("dropping privileges needs root")
    libc = _libc()
    prctl = libc.prctl
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
    for cap in range(last_capability() + 1):
        if cap not in plan.keep:
            _check(prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap}")
    _check(prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0), "PR_SET_KEEPCAPS")
    try:
        os.setgroups([])
        os.setresgid(plan.gid, plan.gid, plan.gid)
        os.setresuid(plan.uid, plan.uid, plan.uid)
    except OSError as exc:
        raise PrivilegeError(f"cannot become uid {plan.uid} gid {plan.gid}: {exc}") from None
    mask = plan.mask
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        word = (mask >> (32 * i)) & 0xFFFFFFFF
        data[i].effective = word
        data[i].permitted = word
        data[i].inheritable = 0
    _check(libc.capset(ctypes.byref(header), data), "capset")
    _check(prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0), "clearing PR_SET_KEEPCAPS")
    _check(prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def group_id(name: str) -> int:
    """The gid of group ``name`` (for chown of the spool directory)."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise PrivilegeError(f"unknown group {name!r}") from None


def _may(st: os.stat_result, uid: int, gid: int, bits: int) -> bool:
    """POSIX mode bits only (no ACLs), as for a process without supplementary groups."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        shift = 6
    elif st.st_gid == gid:
        shift = 3
    else:
        shift = 0
    return (st.st_mode >> shift) & bits == bits


def read_problem(path: Path, uid: int, gid: int) -> str | None:
    """Why ``uid``:``gid`` cannot read ``path`` (a file, or a directory and its
    ``*.rules``), or None. Checked as the dropped daemon will be: that uid,
    its primary group, no supplementary groups (drop_privileges clears them).
    """
    target = path.absolute()
    for parent in reversed(target.parents):
        st = _stat(parent)
        if isinstance(st, str):
            return st
        if not _may(st, uid, gid, 1):
            return f"{target} (cannot enter {parent}, mode {st.st_mode & 0o7777:o})"
    st = _stat(target)
    if isinstance(st, str):
        return st
    if stat.S_ISDIR(st.st_mode):
        if not _may(st, uid, gid, 5):
            return _denied(target, st)
        files = [p for p in target.iterdir() if p.name.endswith(".rules")]
    else:
        files = [target]
    for f in files:
        fst = _stat(f)
        if isinstance(fst, str):
            return fst
        if not _may(fst, uid, gid, 4):
            return _denied(f, fst)
    return None


def _stat(path: Path) -> os.stat_result | str:
    """``path``'s status, or why it has none (read_problem's answer then)."""
    try:
        return path.stat()
    except OSError as exc:
        return f"{path} ({exc.strerror})"


def _denied(path: Path, st: os.stat_result) -> str:
    return f"{path} (mode {st.st_mode & 0o7777:o}, owner {st.st_uid}:{st.st_gid})"
