"""Enrichment from /proc: the parent's executable and the container of the audited process.

Users coming from go-audit, laurel and Auditbeat expect an event to say
which program started the process (``ppid_exe``: laurel's parent info) and
which container it ran in (``container_id``, plus ``pod_uid`` on
Kubernetes: Auditbeat's add_docker/add_kubernetes metadata). The kernel's
records carry neither, so they are read from ``/proc/PID`` while the event
is shipped. That is only possible while the process still exists, and only
on the host that runs it: enrichment is **off by default** (``run
--enrich``): it costs a /proc read per event, its fields are present for
long-lived processes and missing for ones that already exited (most
``execve`` children), and ``replay`` and the Lua decoder cannot produce
them, so by default the same event gives the same message on every path.

Pid reuse: a pid seen in an event may belong to another process by the time
we look. Every lookup reads ``/proc/PID/stat`` for the process's start time
(clock ticks since boot); a process that started after the event happened
is not the one in the event and gives no fields (counted). The cache is
keyed by (pid, start time), so a reused pid never hits a stale entry, and it
is a bounded LRU.

Sans-IO core: :func:`container_from_cgroup` and :func:`parse_stat` are
pure; :class:`Enricher` takes any :class:`ProcFS` (tests give it a dict);
:class:`LiveProcFS` is the I/O edge.
"""

from __future__ import annotations

import os
import re
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from audit_heka.core.events import Event
from audit_heka.heka.message import Field

DEFAULT_CACHE_SIZE = 4096

COUNTERS = (
    "enriched",
    "enrich_cache_hits",
    "enrich_cache_misses",
    "enrich_gone",
    "enrich_pid_reused",
)

#: Fields added to the message, in this order (documented in docs/fields.md).
ENRICH_FIELDS = ("ppid_exe", "container_id", "container_runtime", "pod_uid")

_HEX64 = r"[0-9a-f]{64}"
# Checked in order against each cgroup path; the first match wins.
_RUNTIMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("docker", re.compile(rf"(?:^|/)docker[-/]({_HEX64})(?:\.scope)?(?:/|$)")),
    ("containerd", re.compile(rf"(?:^|/)cri-containerd[-:]({_HEX64})(?:\.scope)?(?:/|$)")),
    ("cri-o", re.compile(rf"(?:^|/)crio-(?:conmon-)?({_HEX64})(?:\.scope)?(?:/|$)")),
    ("podman", re.compile(rf"(?:^|/)libpod-(?:conmon-)?({_HEX64})(?:\.scope)?(?:/|$)")),
)
# Kubernetes with the cgroupfs driver (/kubepods/burstable/pod<uid>/<id>) and
# plain containerd namespaces (/default/<id>): a bare 64-hex path element.
_BARE_ID = re.compile(rf"(?:^|/)({_HEX64})(?:/|$)")
_POD_UID = re.compile(
    r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})"
)


@dataclass(frozen=True, slots=True)
class Container:
    """What a process's cgroup says about its container."""

    id: str
    runtime: str | None = None  # docker, containerd, cri-o, podman; None if unsure
    pod_uid: str | None = None  # Kubernetes pod uid, when the path shows it


def container_from_cgroup(text: str) -> Container | None:
    """The container of a process from the text of ``/proc/PID/cgroup``, or None.

    Lines are ``hierarchy:controllers:path`` (cgroup v1, several lines) or
    ``0::path`` (v2). The first line whose path names a container decides.
    """
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        path = parts[2]
        pod = _POD_UID.search(path)
        pod_uid = pod.group(1).replace("_", "-") if pod else None
        for runtime, pattern in _RUNTIMES:
            match = pattern.search(path)
            if match:
                return Container(match.group(1), runtime, pod_uid)
        bare = _BARE_ID.search(path)
        if bare:
            return Container(bare.group(1), "containerd" if pod_uid else None, pod_uid)
    return None


def parse_stat(text: str) -> tuple[int, int] | None:
    """(ppid, start time in clock ticks since boot) from ``/proc/PID/stat``, or None.

    ``comm`` (field 2) is in parentheses and may itself contain spaces and
    parentheses, so fields are counted after the *last* ``)``.
    """
    end = text.rfind(")")
    if end < 0:
        return None
    rest = text[end + 1 :].split()
    # rest[0] is field 3 (state): ppid is field 4, starttime field 22.
    if len(rest) < 20 or not rest[1].isdigit() or not rest[19].isdigit():
        return None
    return int(rest[1]), int(rest[19])


class ProcFS(Protocol):
    """What the enricher reads: files and links under /proc, by relative path."""

    def read_text(self, relative: str) -> str | None: ...
    def readlink(self, relative: str) -> str | None: ...
    def boot_time(self) -> float | None: ...
    def ticks_per_second(self) -> int: ...


@dataclass(frozen=True, slots=True)
class _Info:
    exe: str | None
    container: Container | None


class Enricher:
    """Adds ``ppid_exe``/``container_id``/... to an event's message (see module doc)."""

    def __init__(self, proc: ProcFS, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.proc = proc
        self.cache_size = max(1, cache_size)
        self._cache: OrderedDict[tuple[int, int], _Info] = OrderedDict()
        # Every counter present from the start, so status and health show zeros.
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self._boot = proc.boot_time()
        self._hz = proc.ticks_per_second() or 100

    def __call__(self, event: Event) -> Sequence[Field]:
        """The extra fields of ``event`` (empty when its process is gone or unknown)."""
        pid, ppid = _pids(event)
        if pid is None:
            return ()
        info = self._lookup(pid, event.seconds + 1)
        if info is None:
            return ()
        out: list[Field] = []
        if ppid is not None:
            parent = self._lookup(ppid, event.seconds + 1)
            if parent is not None and parent.exe is not None:
                out.append(Field.string("ppid_exe", parent.exe))
        container = info.container
        if container is not None:
            out.append(Field.string("container_id", container.id))
            if container.runtime is not None:
                out.append(Field.string("container_runtime", container.runtime))
            if container.pod_uid is not None:
                out.append(Field.string("pod_uid", container.pod_uid))
        self.counters["enriched"] += 1
        return out

    def _lookup(self, pid: int, not_after: float) -> _Info | None:
        stat_text = self.proc.read_text(f"{pid}/stat")
        stat = parse_stat(stat_text) if stat_text is not None else None
        if stat is None:
            self.counters["enrich_gone"] += 1
            return None
        start = stat[1]
        if self._boot is not None and self._boot + start / self._hz > not_after:
            # This pid now belongs to a process younger than the event.
            self.counters["enrich_pid_reused"] += 1
            return None
        key = (pid, start)
        info = self._cache.get(key)
        if info is not None:
            self._cache.move_to_end(key)
            self.counters["enrich_cache_hits"] += 1
            return info
        self.counters["enrich_cache_misses"] += 1
        cgroup = self.proc.read_text(f"{pid}/cgroup")
        info = _Info(
            self.proc.readlink(f"{pid}/exe"),
            container_from_cgroup(cgroup) if cgroup is not None else None,
        )
        # Re-check the start time: the process may have exited (and the pid
        # been reused) between reading stat and reading exe/cgroup.
        again = self.proc.read_text(f"{pid}/stat")
        if again is None or parse_stat(again) != stat:
            self.counters["enrich_gone"] += 1
            return None
        self._cache[key] = info
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return info


def _pids(event: Event) -> tuple[int | None, int | None]:
    """``pid`` and ``ppid`` of the first record that has a decimal ``pid``."""
    for record in event.records:
        raw = record.get("pid")
        if raw is None:
            continue
        if not raw.isdigit() or raw == "0":
            return None, None
        ppid = record.get("ppid")
        return int(raw), int(ppid) if ppid is not None and ppid.isdigit() and ppid != "0" else None
    return None, None


class LiveProcFS:
    """The real /proc (the I/O edge). Every failure reads as "not there"."""

    def __init__(self, root: Path = Path("/proc")) -> None:
        self.root = root

    def read_text(self, relative: str) -> str | None:
        try:
            return (self.root / relative).read_text(errors="replace")
        except OSError:
            return None

    def readlink(self, relative: str) -> str | None:
        try:
            return str((self.root / relative).readlink())
        except OSError:
            return None

    def boot_time(self) -> float | None:
        text = self.read_text("stat")
        for line in (text or "").splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
        return None

    def ticks_per_second(self) -> int:
        return os.sysconf("SC_CLK_TCK")
