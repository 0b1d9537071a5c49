"""audit-heka benchmarks: ratios against a baseline measured in the same run.

    python bench/bench.py all        # capture logs, offline, live, memory; writes bench/RESULTS.md
    python bench/bench.py offline    # replay vs ausearch -i on the captured logs
    python bench/bench.py live       # syscall storm: auditd -n vs audit-heka run
    python bench/bench.py memory --minutes 10
    python bench/bench.py report     # rewrite RESULTS.md from the saved figures

Everything that touches the kernel holds the same lock as the tests
(/run/audit-heka-test.lock) and puts the audit state back as it found it.
Work files go to bench/work/ (ignored by git).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / "work"
STORM = WORK / "storm"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
sys.path.insert(0, str(ROOT / "tests"))

from capture import run_auditd  # noqa: E402

LOCK = Path("/run/audit-heka-test.lock")
BACKLOG_LIMIT = 8192
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


def offline(runs: int = 5) -> list[OfflineResult]:
    results = []
    env_ausearch = {**os.environ, "TZ": "UTC", "LC_ALL": "C"}
    for name, calls, execs in (("log-10k", 2_450, 25), ("log-250k", 62_000, 500)):
        log = capture_log(name, calls, execs)
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


# ---------------------------------------------------------------- live


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ_JIFFIES


def proc_peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@dataclass
class LiveResult:
    consumer: str
    storm_rate: float
    storm_calls: int
    events: int
    kernel_lost: int
    backlog_wait_actual: int
    cpu_s: float
    peak_rss_mib: float

    @property
    def cpu_per_100k(self) -> float:
        return self.cpu_s / max(self.events, 1) * 100_000


def _storm(seconds: float) -> dict[str, float]:
    out = sh(str(STORM), str(seconds)).stdout
    result: dict[str, float] = json.loads(out)
    return result


def _wait_registered(pid: int, timeout: float = 30) -> None:
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


def live_consumer(
    name: str,
    start: Callable[[Path], subprocess.Popen[bytes]],
    count_events: Callable[[Path], int],
    seconds: float,
) -> LiveResult:
    workdir = WORK / f"live-{name}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with kernel():
        consumer = start(workdir)
        try:
            _wait_registered(consumer.pid)
            sh("auditctl", "-b", str(BACKLOG_LIMIT), "-e", "1")
            for rule in storm_rules()[:1]:
                sh("auditctl", *rule)
            before = kernel_status()
            storm = _storm(seconds)
            _wait_drained()
            after = kernel_status()
            cpu = proc_cpu_seconds(consumer.pid)
            rss = proc_peak_rss_kib(consumer.pid)
        finally:
            consumer.send_signal(signal.SIGTERM)
            consumer.wait(60)
    events = count_events(workdir)
    return LiveResult(
        consumer=name,
        storm_rate=storm["rate"],
        storm_calls=int(storm["calls"]),
        events=events,
        kernel_lost=after["lost"] - before["lost"],
        backlog_wait_actual=after.get("backlog_wait_time_actual", 0)
        - before.get("backlog_wait_time_actual", 0),
        cpu_s=cpu,
        peak_rss_mib=rss / 1024,
    )


def start_auditd(workdir: Path) -> subprocess.Popen[bytes]:
    confdir = workdir / "etc"
    confdir.mkdir()
    from capture import _auditd_conf  # noqa: PLC0415 - the same config the tests use

    conf = confdir / "auditd.conf"
    conf.write_text(_auditd_conf(workdir, workdir / "audit.log", "RAW", False))
    conf.chmod(0o640)
    return subprocess.Popen(["auditd", "-n", "-s", "nochange", "-c", str(confdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def count_auditd(workdir: Path) -> int:
    n = 0
    with (workdir / "audit.log").open("rb") as f:
        for line in f:
            if line.startswith(b"type=SYSCALL") and b'key="storm"' in line:
                n += 1
    return n


def start_audit_heka(workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "-m", "audit_heka", "run", "--target", f"file:{workdir / 'out.heka'}",
         "--backlog-limit", str(BACKLOG_LIMIT), "--status-file", str(workdir / "status.json"),
         "--spool", str(workdir / "spool"), "--no-payload"],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "stderr").open("wb"),
    )


def count_audit_heka(workdir: Path) -> int:
    decoded = subprocess.run([PYTHON, "-m", "audit_heka", "decode", str(workdir / "out.heka")],
                             capture_output=True, text=True, check=False)
    n = 0
    for line in decoded.stdout.splitlines():
        fields = json.loads(line)["Fields"]
        if fields.get("key") == "storm" and fields.get("type") == "SYSCALL":
            n += 1
    return n


def live(seconds: float = 10) -> list[LiveResult]:
    build_storm()
    results = [
        live_consumer("auditd", start_auditd, count_auditd, seconds),
        live_consumer("audit-heka", start_audit_heka, count_audit_heka, seconds),
    ]
    for r in results:
        print(f"live {r}", flush=True)
    return results


# ---------------------------------------------------------------- memory


def memory(minutes: float) -> list[tuple[float, int]]:
    """RSS of `run` with a dead receiver (spool filling) under a storm."""
    build_storm()
    workdir = WORK / "memory"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    samples: list[tuple[float, int]] = []
    with kernel():
        consumer = subprocess.Popen(
            [PYTHON, "-m", "audit_heka", "run", "--target", "127.0.0.1:9",  # discard: refused
             "--backlog-limit", str(BACKLOG_LIMIT), "--status-file", str(workdir / "status.json"),
             "--spool", str(workdir / "spool"), "--spool-max-bytes", str(512 * 1024 * 1024),
             "--spool-full", "drop-oldest"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_registered(consumer.pid)
            sh("auditctl", "-e", "1", *storm_rules()[0])
            storm = subprocess.Popen([str(STORM), str(minutes * 60)], stdout=subprocess.DEVNULL)
            start = time.monotonic()
            while storm.poll() is None:
                rss = int(Path(f"/proc/{consumer.pid}/status").read_text()
                          .split("VmRSS:")[1].split()[0])
                samples.append((time.monotonic() - start, rss))
                time.sleep(10)
        finally:
            consumer.send_signal(signal.SIGTERM)
            consumer.wait(120)
    return samples


# ---------------------------------------------------------------- report


def machine() -> str:
    cpu = "unknown cpu"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{platform.node()}: {os.cpu_count()} x {cpu}, kernel {platform.release()}, "
            f"Python {platform.python_version()}, "
            f"{sh('ausearch', '-v').stdout.strip() or 'ausearch'}")


def write_results(off: list[OfflineResult], lv: list[LiveResult],
                  mem: list[tuple[float, int]]) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}.",
        "Command: `bash bench/run.sh` (see bench/README.md). Every ratio is against a baseline",
        "measured in the same run.",
        "",
        "## Offline: `audit-heka replay LOG --target file:` vs `ausearch -i -if LOG`",
        "",
        f"Section {section_when('offline')}.",
        "",
        "| log | records | events | ausearch -i (s, median) | replay (s, median) | ratio "
        "| target |",
        "|---|---|---|---|---|---|---|",
    ]
    targets = {"log-10k": "≤ 1.0", "log-250k": "≤ 0.1"}
    for r in off:
        lines.append(f"| {r.log} | {r.records} | {r.events} | {r.ausearch_s:.3f} | "
                     f"{r.replay_s:.3f} | {r.ratio:.2f} | {targets[r.log]} |")
    lines += [
        "",
        "## Live: syscall storm (failing open, one rule), auditd -n (RAW) vs audit-heka run",
        "",
        f"Section {section_when('live')}. Same backlog limit for both ({BACKLOG_LIMIT}); "
        "each consumer ran until the kernel backlog had drained.",
        "",
        "| consumer | storm calls/s | storm calls | events received | kernel lost | "
        "backlog_wait_time_actual | CPU s | CPU s / 100k events | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for lr in lv:
        lines.append(f"| {lr.consumer} | {lr.storm_rate:.0f} | {lr.storm_calls} | {lr.events} | "
                     f"{lr.kernel_lost} | {lr.backlog_wait_actual} | {lr.cpu_s:.2f} | "
                     f"{lr.cpu_per_100k:.2f} | {lr.peak_rss_mib:.1f} |")
    if len(lv) == 2:
        a, h = lv
        lines += ["", f"Ratios audit-heka / auditd: storm rate {h.storm_rate / a.storm_rate:.2f}, "
                  f"CPU per event {h.cpu_per_100k / max(a.cpu_per_100k, 1e-9):.2f}."]
    if mem:
        rss = [kib / 1024 for _, kib in mem]
        lines += ["", "## Memory: `run` with a dead receiver under a storm", "",
                  f"Section {section_when('memory')}.", "",
                  f"{len(mem)} samples over {mem[-1][0] / 60:.1f} min: RSS min {min(rss):.1f} MiB, "
                  f"max {max(rss):.1f} MiB, last {rss[-1]:.1f} MiB.", "",
                  "| t (s) | RSS (MiB) |", "|---|---|"]
        lines += [f"| {t:.0f} | {kib / 1024:.1f} |" for t, kib in mem[:: max(1, len(mem) // 20)]]
    lines += ["", *targets_table(off, lv, mem)]
    notes = BENCH / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    (BENCH / "RESULTS.md").write_text("\n".join(lines) + "\n")


def targets_table(off: list[OfflineResult], lv: list[LiveResult],
                  mem: list[tuple[float, int]]) -> list[str]:
    """Issue 7's targets, each with the measured figure and whether it is met."""
    rows: list[tuple[str, str, str, bool]] = []
    for r in off:
        limit = 1.0 if r.log == "log-10k" else 0.1
        rows.append((f"offline {r.log}: replay / ausearch -i wall time", f"≤ {limit}",
                     f"{r.ratio:.2f}", r.ratio <= limit))
    if len(lv) == 2:
        a, h = lv
        rate = h.storm_rate / a.storm_rate
        cpu = h.cpu_per_100k / max(a.cpu_per_100k, 1e-9)
        rows += [
            ("live: storm rate vs auditd's", "≥ 1.0", f"{rate:.2f}", rate >= 1.0),
            ("live: kernel lost", "0", str(h.kernel_lost), h.kernel_lost == 0),
            ("live: events received / storm calls", "1.0",
             f"{h.events / max(h.storm_calls, 1):.2f}", h.events == h.storm_calls),
            ("live: CPU per event vs auditd's", "≤ 1.5", f"{cpu:.2f}", cpu <= 1.5),
            ("live: peak RSS (MiB)", "≤ 64", f"{h.peak_rss_mib:.1f}", h.peak_rss_mib <= 64),
        ]
    if mem:
        rss = [kib / 1024 for _, kib in mem]
        later = rss[len(rss) // 2 :]
        growth = max(later) - min(later)
        rows.append(("memory: RSS growth over the second half of the run (MiB)", "flat (≤ 2)",
                     f"{growth:.1f}", growth <= 2))
    out = ["## Targets (issue 7)", "", "| target | goal | measured | met |", "|---|---|---|---|"]
    out += [f"| {name} | {goal} | {got} | {'yes' if ok else '**no**'} |"
            for name, goal, got, ok in rows]
    return out


def save(section: str, data: object) -> None:
    record = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "commit": git_commit(), "data": data}
    (WORK / f"{section}.json").write_text(json.dumps(record, indent=1))


def load(section: str) -> list:  # type: ignore[type-arg]
    path = WORK / f"{section}.json"
    if not path.exists():
        return []
    data: list = json.loads(path.read_text())["data"]  # type: ignore[type-arg]
    return data


def section_when(section: str) -> str:
    path = WORK / f"{section}.json"
    if not path.exists():
        return "not run"
    record = json.loads(path.read_text())
    return f"run {record['when']} at commit {record['commit']}"


def git_commit() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["all", "offline", "live", "memory", "report"],
                        help="report: rewrite RESULTS.md from the saved figures only")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the benchmarks use the kernel's audit subsystem: run them as root")
    # Each section's figures are kept in bench/work/*.json, so that one section
    # can be rerun (the memory run takes 10 minutes) and RESULTS.md still shows
    # every figure, each from its section's last run.
    WORK.mkdir(parents=True, exist_ok=True)
    if args.what in ("all", "offline"):
        save("offline", [asdict(r) for r in offline(args.runs)])
    if args.what in ("all", "live"):
        save("live", [asdict(r) for r in live(args.seconds)])
    if args.what in ("all", "memory"):
        save("memory", memory(args.minutes))
    off = [OfflineResult(**r) for r in load("offline")]
    lv = [LiveResult(**r) for r in load("live")]
    mem = [(float(t), int(k)) for t, k in load("memory")]
    write_results(off, lv, mem)
    print((BENCH / "RESULTS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
