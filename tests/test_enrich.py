"""Enrichment: cgroup text -> container, /proc/PID/stat, the cache and pid reuse (sans-IO)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from audit_heka.core.events import Event
from audit_heka.core.interpret import Interpreter
from audit_heka.core.records import Record, parse_line
from audit_heka.core.schema import MessageBuilder
from audit_heka.host.enrich import (
    Container,
    Enricher,
    LiveProcFS,
    container_from_cgroup,
    parse_stat,
)

ID = "3f4e1b2c" * 8


def parse_record(line: str) -> Record:
    record = parse_line(line)
    assert isinstance(record, Record), record
    return record
UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Docker, cgroup v1 and v2 (systemd driver)
        (f"12:pids:/docker/{ID}\n0::/docker/{ID}\n", Container(ID, "docker")),
        (f"0::/system.slice/docker-{ID}.scope\n", Container(ID, "docker")),
        # containerd under Kubernetes, systemd driver (underscores in the pod uid)
        (
            "0::/kubepods.slice/kubepods-besteffort.slice/"
            f"kubepods-besteffort-pod{UID.replace('-', '_')}.slice/cri-containerd-{ID}.scope\n",
            Container(ID, "containerd", UID),
        ),
        # Kubernetes, cgroupfs driver: a bare id under pod<uid>
        (f"4:memory:/kubepods/burstable/pod{UID}/{ID}\n", Container(ID, "containerd", UID)),
        # CRI-O and podman (and their conmon scopes)
        (f"0::/kubepods.slice/x/crio-{ID}.scope\n", Container(ID, "cri-o")),
        (f"0::/machine.slice/libpod-{ID}.scope/container\n", Container(ID, "podman")),
        (f"0::/machine.slice/libpod-conmon-{ID}.scope\n", Container(ID, "podman")),
        # plain containerd namespace (nerdctl): runtime unknown
        (f"0::/default/{ID}\n", Container(ID, None)),
        # not containers
        ("0::/\n", None),
        ("0::/user.slice/user-1000.slice/session-2.scope\n", None),
        ("4:memory:/process_api/c06d065d10b3694a1c233033ef6574ba\n", None),  # 32 hex
        (f"0::/docker/{ID}0\n", None),  # 65 hex
        (f"0::/docker/{ID.upper()}\n", None),
        ("garbage\n\n:::\n", None),
        ("", None),
    ],
)
def test_container_from_cgroup(text: str, expected: Container | None) -> None:
    assert container_from_cgroup(text) == expected


def test_parse_stat_with_hostile_comm() -> None:
    tail = " S 41 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10"
    assert parse_stat("99 (bash)" + tail) == (41, 123456)
    assert parse_stat("99 (a) b) (c d)" + tail) == (41, 123456)
    assert parse_stat("99 (x") is None
    assert parse_stat("99 (x) S 1 2") is None
    assert parse_stat("") is None


def test_parse_stat_on_this_process() -> None:
    stat = parse_stat(Path("/proc/self/stat").read_text())
    assert stat is not None and stat[0] == os.getppid()


def stat_line(ppid: int, start: int) -> str:
    return f"1 (x) S {ppid} 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start} 0 0"


@dataclass
class FakeProc:
    """/proc as a dict; counts reads so cache hits are visible."""

    files: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    boot: float | None = 1_700_000_000.0
    reads: list[str] = field(default_factory=list)
    on_read: Callable[[str], None] | None = None

    def read_text(self, relative: str) -> str | None:
        self.reads.append(relative)
        if self.on_read is not None:
            self.on_read(relative)
        return self.files.get(relative)

    def readlink(self, relative: str) -> str | None:
        self.reads.append(relative)
        return self.links.get(relative)

    def boot_time(self) -> float | None:
        return self.boot

    def ticks_per_second(self) -> int:
        return 100

    def add(self, pid: int, ppid: int, start: int, exe: str, cgroup: str = "0::/\n") -> None:
        self.files[f"{pid}/stat"] = stat_line(ppid, start)
        self.files[f"{pid}/cgroup"] = cgroup
        self.links[f"{pid}/exe"] = exe


def event(pid: int = 100, ppid: int = 50, seconds: int = 1_700_001_000) -> Event:
    line = (
        f"type=SYSCALL msg=audit({seconds}.042:7): arch=c000003e syscall=59 success=yes "
        f'exit=0 ppid={ppid} pid={pid} auid=1000 uid=0 comm="sh" exe="/usr/bin/sh" key=(null)'
    )
    return Event(None, 7, seconds, 42, (parse_record(line),))


def fields(enricher: Enricher, ev: Event) -> dict[str, str]:
    return {f.name: str(f.values[0]) for f in enricher(ev)}


def test_parent_exe_and_container() -> None:
    proc = FakeProc()
    proc.add(100, 50, 500, "/usr/bin/sh", f"0::/system.slice/docker-{ID}.scope\n")
    proc.add(50, 1, 400, "/usr/bin/containerd-shim")
    enricher = Enricher(proc)
    assert fields(enricher, event()) == {
        "ppid_exe": "/usr/bin/containerd-shim",
        "container_id": ID,
        "container_runtime": "docker",
    }


def test_cache_hits_read_only_stat() -> None:
    proc = FakeProc()
    proc.add(100, 50, 500, "/bin/a")
    proc.add(50, 1, 400, "/bin/parent")
    enricher = Enricher(proc)
    fields(enricher, event())
    proc.reads.clear()
    assert fields(enricher, event()) == {"ppid_exe": "/bin/parent"}
    assert proc.reads == ["100/stat", "50/stat"]
    assert enricher.counters["enrich_cache_hits"] == 2


def test_reused_pid_is_a_new_cache_entry() -> None:
    proc = FakeProc()
    proc.add(100, 50, 500, "/bin/first", f"0::/docker/{ID}\n")
    proc.add(50, 1, 400, "/bin/parent")
    enricher = Enricher(proc)
    assert fields(enricher, event())["container_id"] == ID
    proc.add(100, 50, 600, "/bin/second")  # same pid, later start: another process
    assert "container_id" not in fields(enricher, event())


def test_process_younger_than_the_event_gives_nothing() -> None:
    proc = FakeProc()
    # started 2000 s after boot = 1_700_002_000: after the event (1_700_001_000)
    proc.add(100, 50, 200_000, "/bin/imposter", f"0::/docker/{ID}\n")
    enricher = Enricher(proc)
    assert fields(enricher, event()) == {}
    assert enricher.counters["enrich_pid_reused"] == 1


def test_gone_process_and_exit_between_reads() -> None:
    proc = FakeProc()
    enricher = Enricher(proc)
    assert fields(enricher, event()) == {}
    assert enricher.counters["enrich_gone"] == 1
    proc.add(100, 50, 500, "/bin/a", f"0::/docker/{ID}\n")

    def vanish(relative: str) -> None:
        if relative == "100/cgroup":
            proc.add(100, 50, 700, "/bin/b")  # replaced while we read
    proc.on_read = vanish
    assert fields(enricher, event()) == {}
    assert enricher.counters["enrich_gone"] == 2


def test_events_without_a_pid_and_pid_zero() -> None:
    enricher = Enricher(FakeProc())
    line = "type=CONFIG_CHANGE msg=audit(1700001000.000:8): op=add_rule key=x list=4 res=1"
    assert enricher(Event(None, 8, 1_700_001_000, 0, (parse_record(line),))) == ()
    assert enricher(event(pid=0)) == ()


def test_cache_is_bounded_lru() -> None:
    proc = FakeProc()
    for pid in range(1, 51):
        proc.add(pid, 0, pid, f"/bin/p{pid}")
    enricher = Enricher(proc, cache_size=8)
    for pid in range(1, 51):
        enricher(event(pid=pid, ppid=0))
    assert len(enricher._cache) == 8
    assert set(enricher._cache) == {(pid, pid) for pid in range(43, 51)}


def test_message_builder_appends_the_enricher_fields() -> None:
    proc = FakeProc()
    proc.add(100, 50, 500, "/bin/a", f"0::/docker/{ID}\n")
    proc.add(50, 1, 400, "/bin/parent")
    plain = MessageBuilder(Interpreter({}, {}), hostname="h")
    enriched = MessageBuilder(Interpreter({}, {}), hostname="h", enricher=Enricher(proc))
    a, b = plain.build(event()), enriched.build(event())
    assert b.fields[: len(a.fields)] == a.fields
    assert [f.name for f in b.fields[len(a.fields) :]] == [
        "ppid_exe", "container_id", "container_runtime"
    ]


def test_live_procfs_reads_this_process() -> None:
    live = LiveProcFS()
    me = os.getpid()
    enricher = Enricher(live)
    now = int(time.time())
    line = (
        f"type=SYSCALL msg=audit({now}.000:1): syscall=59 success=yes "
        f"ppid={os.getppid()} pid={me} comm=\"x\""
    )
    got = {f.name: f.values[0] for f in enricher(Event(None, 1, now, 0, (parse_record(line),)))}
    assert got.get("ppid_exe") == str(Path(f"/proc/{os.getppid()}/exe").readlink())
    assert live.boot_time() is not None and live.ticks_per_second() > 0
    assert live.read_text("no-such-pid/stat") is None and live.readlink("0/exe") is None
