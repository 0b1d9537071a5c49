"""audit-heka benchmarks (offline, memory) and the pieces the other bench scripts share.

    python bench/bench.py offline [--runs 5] [--logs log-10k]  # replay vs ausearch -i
    python bench/bench.py memory --minutes 10   # RSS of run's processes, dead receiver, storm
    python bench/bench.py capture               # only capture the logs (bench/work/log-*)
    python bench/bench.py report                # rewrite this script's sections from saved figures

Every figure is a ratio against a baseline measured in the same run, or a
bound. Everything that touches the kernel holds the same lock as the tests
(/run/audit-heka-test.lock, ``kernel()``) and puts the audit state back as it
found it. Work files go to bench/work/ (ignored by git); each section keeps
its figures in bench/work/<section>.json, so one section can be rerun and
``report`` still writes every section that has figures. This script writes
only its own sections of bench/RESULTS.md (``offline``, ``memory``; see
bench/results.py).

The other scripts (journal_bench.py, exec_bench.py) import the shared pieces
from here: the lock, the storm, auditd in the foreground, the daemon's status.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / "work"
STORM = WORK / "storm"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(ROOT / "tests"))

from capture import run_auditd  # noqa: E402
from results import commit, now, stamp, write_section  # noqa: E402

LOCK = Path("/run/audit-heka-test.lock")
BACKLOG_LIMIT = 8192
# name: (storm calls, execs of /usr/bin/true) -> ~10k and ~250k records
LOGS = {"log-10k": (2_450, 25), "log-250k": (62_000, 500)}
OFFLINE_TARGETS = {"log-10k": 1.0, "log-250k": 0.1}  # replay / ausearch -i, issue 7
HZ_JIFFIES = os.sysconf("SC_CLK_TCK")


def sh(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]


def kernel_status() -> dict[str, int]:
    out = sh("auditctl", "-s").stdout
    status = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            status[parts[0]] = int(parts[1])
    return status


@contextlib.contextmanager
def kernel() -> Iterator[dict[str, int]]:
    """Own the kernel's audit state for a while; restore it afterwards."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = kernel_status()
        try:
            yield saved
        finally:
            subprocess.run(["auditctl", "-D"], capture_output=True, check=False)
            subprocess.run(
                ["auditctl", "-b", str(saved["backlog_limit"]), "-e", str(saved["enabled"]),
                 "--backlog_wait_time", str(saved["backlog_wait_time"])],
                capture_output=True,
                check=False,
            )


def build_storm() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if not STORM.exists() or STORM.stat().st_mtime < (BENCH / "storm.c").stat().st_mtime:
        sh("gcc", "-O2", "-o", str(STORM), str(BENCH / "storm.c"))


def storm_rules() -> list[list[str]]:
    return [
        ["-a", "always,exit", "-F", "arch=b64", "-S", "open,openat", "-F", f"exe={STORM}",
         "-F", "exit=-ENOENT", "-k", "storm"],
        ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", "exe=/usr/bin/true",
         "-k", "exec"],
    ]


# ---------------------------------------------------------------- capture


def capture_log(name: str, storm_calls: int, execs: int) -> Path:
    """A RAW audit.log from the live kernel: a storm of failing opens plus some execs."""
    build_storm()
    workdir = WORK / name
    log = workdir / "audit.log"
    if log.exists():
        return log
    shutil.rmtree(workdir, ignore_errors=True)
    workload = ["sh", "-c", f"{STORM} 600 {storm_calls} >/dev/null; "
                f"i=0; while [ $i -lt {execs} ]; do /usr/bin/true; i=$((i+1)); done"]
    with kernel():
        sh("auditctl", "-b", str(BACKLOG_LIMIT))
        run_auditd(workdir, storm_rules(), workload, "RAW", timeout=600)
    return log


def record_count(log: Path) -> int:
    with log.open("rb") as f:
        return sum(1 for _ in f)


# ---------------------------------------------------------------- offline


def timed(cmd: list[str], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


@dataclass
class OfflineResult:
    log: str
    records: int
    events: int
    ausearch_s: float
    replay_s: float

    @property
    def ratio(self) -> float:
        return self.replay_s / self.ausearch_s


def offline(runs: int, logs: list[str]) -> list[OfflineResult]:
    results = []
    env_ausearch = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    for name in logs:
        log = capture_log(name, *LOGS[name])
        out = WORK / f"{name}.heka"
        ausearch, _ = timed(["env", *[f"{k}={v}" for k, v in env_ausearch.items()
                                      if k in ("TZ", "LC_ALL")],
                             "ausearch", "-i", "-if", str(log)], runs)
        with contextlib.suppress(FileNotFoundError):
            out.unlink()

        replay = [PYTHON, "-m", "audit_heka", "replay", str(log), "--target", f"file:{out}"]
        times = []
        for _ in range(runs):
            with contextlib.suppress(FileNotFoundError):
                out.unlink()  # the file target appends
            start = time.perf_counter()
            subprocess.run(replay, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        decoded = subprocess.run([PYTHON, "-m", "audit_heka", "decode", str(out)],
                                 capture_output=True, text=True, check=True)
        events = len(decoded.stdout.splitlines())
        results.append(OfflineResult(name, record_count(log), events, ausearch,
                                     statistics.median(times)))
        print(f"offline {name}: {results[-1]}", flush=True)
    return results


# ---------------------------------------------------------------- consumers


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ_JIFFIES


def proc_peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def proc_rss_kib(pid: int) -> int:
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0])


def _wait_registered(pid: int, timeout: float = 30) -> None:
    """Wait until ``pid`` is the kernel's audit daemon (auditd -n registers itself)."""
    deadline = time.monotonic() + timeout
    while kernel_status().get("pid") != pid:
        if time.monotonic() > deadline:
            raise RuntimeError(f"pid {pid} did not register")
        time.sleep(0.05)


def _wait_drained(timeout: float = 600) -> None:
    """Wait until the consumer has taken everything the storm queued in the kernel.

    A consumer slower than the storm is still reading the kernel's backlog when
    the storm ends; stopping it then would count its backlog as lost. Drained:
    the kernel's backlog stayed empty for two seconds (then one more second for
    the consumer's own pipeline to write out what it read last).
    """
    deadline = time.monotonic() + timeout
    empty_since: float | None = None
    while time.monotonic() < deadline:
        if kernel_status().get("backlog", 0) == 0:
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since >= 2:
                time.sleep(1)
                return
        else:
            empty_since = None
        time.sleep(0.2)
    raise RuntimeError("the consumer did not drain the kernel backlog in time")


#: auditd's flush interval as shipped (auditd.conf of audit-userspace and Debian:
#: flush = INCREMENTAL_ASYNC, freq = 50). The tests' configuration flushes every
#: record (freq = 1, so that a test reads what was just written), which nearly
#: doubles auditd's CPU per exec event (measured 185 against 100 us): a baseline
#: handicapped that way flattered every ratio until 2026-11-30.
AUDITD_FREQ = 50


def start_auditd(workdir: Path) -> subprocess.Popen[bytes]:
    """``auditd -n`` (foreground, never the service) writing workdir/audit.log, RAW,
    flushing as shipped (:data:`AUDITD_FREQ`)."""
    confdir = workdir / "etc"
    confdir.mkdir()
    from capture import _auditd_conf  # noqa: PLC0415 - the same config the tests use

    conf = confdir / "auditd.conf"
    conf.write_text(_auditd_conf(workdir, workdir / "audit.log", "RAW", False, AUDITD_FREQ))
    conf.chmod(0o640)
    return subprocess.Popen(["auditd", "-n", "-s", "nochange", "-c", str(confdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_registered_child(status_file: Path, timeout: float = 30) -> dict[str, Any]:
    """Wait until ``run``'s reader child is the kernel's audit daemon and its shipper is up.

    The supervisor (the pid ``Popen`` knows) never registers: its reader
    child does, and the status file names that child's pid.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            doc: dict[str, Any] = json.loads(status_file.read_text())
            pid = doc["children"]["reader"]["pid"]
            if kernel_status().get("pid") == pid and doc["children"]["shipper"]["alive"]:
                return doc
        time.sleep(0.1)
    raise RuntimeError("audit-heka did not register")


def status_doc(status_file: Path) -> dict[str, Any]:
    """``run``'s status file (retried: it is replaced while we read it)."""
    for _ in range(50):
        with contextlib.suppress(OSError, ValueError):
            doc: dict[str, Any] = json.loads(status_file.read_text())
            return doc
        time.sleep(0.1)
    raise RuntimeError("no status file")


def run_pids(supervisor: int, doc: dict[str, Any]) -> dict[str, int]:
    """Every process of ``run``: the supervisor and its children (as the status file has them)."""
    return {"supervisor": supervisor, "reader": doc["children"]["reader"]["pid"],
            "shipper": doc["children"]["shipper"]["pid"]}


# ---------------------------------------------------------------- memory


def memory(minutes: float, journal_max_bytes: int, interval: float) -> dict[str, Any]:
    """RSS of each of ``run``'s processes under a storm with a dead receiver.

    The receiver is 127.0.0.1:9 (discard, nobody listens: refused), so the
    shipper delivers nothing and the journal fills to --journal-max-bytes, where
    drop-oldest gives up the oldest records (counted). What must stay flat is
    every process's RSS: the reader's (it writes the journal and deletes its
    oldest files), the shipper's (it retries the receiver with a journal that
    grows and is cut under it) and the supervisor's.
    """
    build_storm()
    workdir = WORK / "memory"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, mode=0o700)
    status_file = workdir / "run" / "status.json"
    journal = workdir / "state" / "journal"
    samples: list[dict[str, Any]] = []
    with kernel():
        before = kernel_status()
        daemon = subprocess.Popen(
            [PYTHON, "-m", "audit_heka", "run", "--target", "127.0.0.1:9",
             "--state-dir", str(workdir / "state"), "--status-file", str(status_file),
             "--backlog-limit", str(BACKLOG_LIMIT), "--journal-max-bytes",
             str(journal_max_bytes), "--journal-full", "drop-oldest", "--drain-seconds", "0"],
            stdout=subprocess.DEVNULL, stderr=(workdir / "stderr").open("wb"),
        )
        try:
            wait_registered_child(status_file)
            sh("auditctl", *storm_rules()[0])
            storm = subprocess.Popen([str(STORM), str(minutes * 60)], stdout=subprocess.PIPE,
                                     text=True)
            start = time.monotonic()
            while True:
                doc = status_doc(status_file)
                pids = run_pids(daemon.pid, doc)
                rss = {}
                for role, pid in pids.items():
                    with contextlib.suppress(OSError, IndexError, ValueError):
                        rss[role] = proc_rss_kib(pid)
                counters = doc.get("counters", {})
                samples.append({
                    "t": round(time.monotonic() - start, 1), "rss_kib": rss, "pids": pids,
                    "journal_bytes": sum(f.stat().st_size for f in journal.glob("audit.log*")),
                    "journal_dropped_records": counters.get("journal_dropped_records", 0),
                    "netlink_records": counters.get("netlink_records", 0),
                })
                if storm.poll() is not None:
                    break
                with contextlib.suppress(subprocess.TimeoutExpired):
                    storm.wait(interval)
            out, _ = storm.communicate()
            load = json.loads(out)
            after = kernel_status()
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(120)
    return {"minutes": minutes, "interval": interval, "journal_max_bytes": journal_max_bytes,
            "storm_calls": int(load["calls"]), "storm_rate": load["rate"],
            "kernel_lost": after["lost"] - before["lost"], "samples": samples}


def growth_mib(values: list[int]) -> float:
    """How much the second half of a series rose above its own minimum (MiB)."""
    later = values[len(values) // 2:]
    return (max(later) - min(later)) / 1024


# ---------------------------------------------------------------- report


def saved(section: str) -> dict[str, Any] | None:
    path = WORK / f"{section}.json"
    if not path.exists():
        return None
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def save(section: str, data: object, command: str) -> None:
    record = {"when": now(), "commit": commit(), "command": command, "data": data}
    (WORK / f"{section}.json").write_text(json.dumps(record, indent=1))


def offline_section(doc: dict[str, Any]) -> list[str]:
    lines = [
        "## Offline: `audit-heka replay LOG --target file:` vs `ausearch -i -if LOG`", "",
        stamp(doc["when"], doc["commit"]),
        f"Command: `{doc['command']}`: whole processes, median of the runs; the logs are "
        "RAW audit.logs `auditd -n` wrote from bench/storm.c's failing open()s plus some "
        "execs of /usr/bin/true (bench/work/log-*); ausearch with TZ=UTC LC_ALL=C.", "",
        "| log | records | events | ausearch -i (s, median) | replay (s, median) | ratio "
        "| target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in (OfflineResult(**r) for r in doc["data"]):
        limit = OFFLINE_TARGETS[r.log]
        lines.append(f"| {r.log} | {r.records} | {r.events} | {r.ausearch_s:.3f} | "
                     f"{r.replay_s:.3f} | {r.ratio:.2f} | ≤ {limit} | "
                     f"{'yes' if r.ratio <= limit else '**no**'} |")
    return lines


def memory_section(doc: dict[str, Any]) -> list[str]:
    data = doc["data"]
    samples = data["samples"]
    roles = list(samples[0]["pids"])
    restarts = [role for role in roles if len({s["pids"][role] for s in samples}) > 1]
    lines = [
        "## Memory: `run` (supervisor, reader, shipper) with a dead receiver under a storm", "",
        stamp(doc["when"], doc["commit"]),
        f"Command: `{doc['command']}`: the open() storm (one rule) for "
        f"{data['minutes']:g} min against `audit-heka run --target 127.0.0.1:9` (refused: "
        f"nothing is delivered) with `--journal-full drop-oldest --journal-max-bytes "
        f"{data['journal_max_bytes']}`; VmRSS of each process every {data['interval']:g} s. "
        f"Storm: {data['storm_calls']} calls, {data['storm_rate']:.0f} calls/s; kernel lost "
        f"{data['kernel_lost']}; records given up (counted) "
        f"{samples[-1]['journal_dropped_records']} of {samples[-1]['netlink_records']} read; "
        f"journal at the end {samples[-1]['journal_bytes'] / 2**20:.1f} MiB.",
    ]
    if restarts:
        lines.append(f"**Restarted during the run** (new pid): {', '.join(restarts)}.")
    lines += ["", "| process | RSS min MiB | max MiB | last MiB | growth over the second half "
              "MiB | flat (≤ 2 MiB) |", "|---|---|---|---|---|---|"]
    series = {role: [s["rss_kib"].get(role, 0) for s in samples] for role in roles}
    series["all"] = [sum(s["rss_kib"].values()) for s in samples]
    for role, values in series.items():
        growth = growth_mib(values)
        lines.append(f"| {role} | {min(values) / 1024:.1f} | {max(values) / 1024:.1f} | "
                     f"{values[-1] / 1024:.1f} | {growth:.1f} | "
                     f"{'yes' if growth <= 2 else '**no**'} |")
    lines += ["", f"| t (s) | {' | '.join(f'{r} MiB' for r in roles)} | records read "
              "| journal MiB | records given up |", "|---|" + "---|" * (len(roles) + 3)]
    for s in samples[:: max(1, len(samples) // 20)]:
        rss = " | ".join(f"{s['rss_kib'].get(r, 0) / 1024:.1f}" for r in roles)
        lines.append(f"| {s['t']:.0f} | {rss} | {s['netlink_records']} | "
                     f"{s['journal_bytes'] / 2**20:.1f} | {s['journal_dropped_records']} |")
    return lines


def report() -> None:
    """Rewrite this script's sections that have figures in bench/work (and nothing else)."""
    for section, render in (("offline", offline_section), ("memory", memory_section)):
        doc = saved(section)
        if doc is not None:
            write_section(section, render(doc))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["offline", "memory", "capture", "report"])
    parser.add_argument("--runs", type=int, default=5, help="offline: runs of each command")
    parser.add_argument("--logs", nargs="+", choices=list(LOGS), default=list(LOGS),
                        help="offline, capture: which logs")
    parser.add_argument("--minutes", type=float, default=10, help="memory: storm length")
    parser.add_argument("--interval", type=float, default=10, help="memory: s between samples")
    parser.add_argument("--journal-max-bytes", type=int, default=256 * 1024 * 1024,
                        help="memory: the journal's bound (drop-oldest beyond it)")
    args = parser.parse_args()
    if os.geteuid() != 0 and args.what != "report":
        sys.exit("the benchmarks use the kernel's audit subsystem: run them as root")
    WORK.mkdir(parents=True, exist_ok=True)
    command = "python bench/bench.py " + " ".join(sys.argv[1:])
    if args.what == "capture":
        for name in args.logs:
            print(capture_log(name, *LOGS[name]))
        return 0
    if args.what == "offline":
        save("offline", [asdict(r) for r in offline(args.runs, args.logs)], command)
    elif args.what == "memory":
        save("memory", memory(args.minutes, args.journal_max_bytes, args.interval), command)
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
