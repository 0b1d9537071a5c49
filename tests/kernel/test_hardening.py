"""Hardening end to end against the live kernel (issue 8): the dropped daemon.

``run --user nobody`` is started for real; its /proc/PID/status is read while
it runs, events must still flow, SIGHUP must still reload the rules (with
only CAP_AUDIT_CONTROL left), and the journal and status file it keeps must be
the user's, private, and accepted again at the next start.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from audit_heka.host.privileges import CAP_AUDIT_CONTROL, CAP_AUDIT_READ

# pytest puts tests/kernel on sys.path (the module is ``test_run``); mypy names
# modules by their path under tests/ (``kernel.test_run``). Same file.
if TYPE_CHECKING:
    from kernel.test_run import MARKER_DIR, Daemon, Marker, Receiver, TlsReceiver, cli, free_port
else:
    from test_run import MARKER_DIR, Daemon, Marker, Receiver, TlsReceiver, cli, free_port

pytestmark = pytest.mark.kernel

NOBODY = 65534


def proc_status(pid: int) -> dict[str, list[str]]:
    with Path(f"/proc/{pid}/status").open() as f:
        return {k: v.split() for k, v in (line.split(":", 1) for line in f)}


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A directory `nobody` can traverse (pytest's tmp_path is 0700 root)."""
    base = Path(tempfile.mkdtemp(prefix="audit-heka-user-", dir="/tmp"))
    base.chmod(0o711)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def wait_until(predicate: object, what: str, timeout: float = 30) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_run_as_nobody_keeps_only_audit_control_and_still_works(
    audit_kernel: object, reachable_dir: Path
) -> None:
    rules = reachable_dir / "marker.rules"
    state = reachable_dir / "state"
    journal = reachable_dir / "journal"
    first = Marker("user1", 50)
    rules.write_text(first.rule())
    rules.chmod(0o644)
    receiver = Receiver(free_port())
    daemon = Daemon(
        reachable_dir,
        "--state-dir", str(state),
        "--user", "nobody",
        "--target", f"127.0.0.1:{receiver.port}",
        "--rules", str(rules),
        "--journal-dir", str(journal),
    )
    try:
        # The supervisor keeps root (kernel state, restarts); the reader, which
        # reads what the kernel sends, keeps only CAP_AUDIT_CONTROL (to hand the
        # pid back); the shipper, which parses and sends, keeps nothing.
        children = daemon.status()["children"]
        status = proc_status(children["reader"]["pid"])
        assert status["Uid"] == [str(NOBODY)] * 4 and status["Gid"] == [str(NOBODY)] * 4
        assert status["Groups"] == []
        for name in ("CapEff", "CapPrm", "CapBnd"):
            assert int(status[name][0], 16) == 1 << CAP_AUDIT_CONTROL, (name, status[name])
        assert int(status["CapInh"][0], 16) == 0 and int(status["CapAmb"][0], 16) == 0
        assert status["NoNewPrivs"] == ["1"]
        status = proc_status(children["shipper"]["pid"])
        assert status["Uid"] == [str(NOBODY)] * 4 and status["Groups"] == []
        assert int(status["CapEff"][0], 16) == 0 and int(status["CapPrm"][0], 16) == 0

        first.go()
        first.wait()
        got = receiver.wait_for(first.names(), timeout=30)
        assert set(got) == first.names()

        # SIGHUP with a changed rule file: the old rule goes, the new one is in force.
        second = Marker("user2", 50)
        rules.write_text(second.rule())
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("rule_reloads", 1, timeout=30)
        assert daemon.counters()["rule_reload_errors"] == 0, "".join(daemon.errors)
        listing = subprocess.run(["auditctl", "-l"], capture_output=True, text=True).stdout
        assert f"pid={second.proc.pid}" in listing and f"pid={first.proc.pid}" not in listing
        second.go()
        second.wait()
        got = receiver.wait_for(second.names(), timeout=30)
        assert second.names() <= set(got)

        # A bad reload is refused and the rules in force stay.
        rules.write_text("-a always,exit -F nosuchfield=1\n")
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("rule_reload_errors", 1, timeout=30)
        listing = subprocess.run(["auditctl", "-l"], capture_output=True, text=True).stdout
        assert f"pid={second.proc.pid}" in listing
    finally:
        code = daemon.stop()
        receiver.kill()
    assert code == 0, "".join(daemon.errors)
    assert "Traceback" not in "".join(daemon.errors)

    # What it kept on disk is the user's and private.
    for path in [journal, *journal.rglob("*"), state, *state.rglob("*")]:
        st = path.lstat()
        assert st.st_uid == NOBODY, path
        assert st.st_mode & 0o077 == 0, (path, oct(st.st_mode))

    # The next start as root without --user refuses the user's journal ...
    refused = subprocess.run(
        cli("run", "--target", "127.0.0.1:1", "--journal-dir", str(journal),
            "--state-dir", str(reachable_dir / "other-state"),
            "--status-file", str(reachable_dir / "other" / "s.json")),
        capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode != 0
    assert f"owned by uid {NOBODY}" in refused.stderr and "Traceback" not in refused.stderr
    # ... and a world-writable journal is refused whoever runs it.
    shared = reachable_dir / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    refused = subprocess.run(
        cli("run", "--user", "nobody", "--target", "127.0.0.1:1", "--journal-dir", str(shared),
            "--state-dir", str(reachable_dir / "other-state2"),
            "--status-file", str(reachable_dir / "other" / "s.json")),
        capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode != 0 and "world-writable" in refused.stderr


def test_run_as_nobody_multicast_keeps_audit_read(
    audit_kernel: object, reachable_dir: Path
) -> None:
    daemon = Daemon(reachable_dir, "--user", "nobody", "--multicast", "--target", "-")
    try:
        status = proc_status(daemon.status()["children"]["reader"]["pid"])
        expected = (1 << CAP_AUDIT_CONTROL) | (1 << CAP_AUDIT_READ)
        for name in ("CapEff", "CapPrm", "CapBnd"):
            assert int(status[name][0], 16) == expected, (name, status[name])
        assert status["NoNewPrivs"] == ["1"]
    finally:
        assert daemon.stop() == 0, "".join(daemon.errors)


def test_status_directory_shared_with_others_is_refused(reachable_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (run)")
    shared = reachable_dir / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    r = subprocess.run(
        cli("run", "--target", "-", "--status-file", str(shared / "status.json"),
            "--state-dir", str(reachable_dir / "state")),
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode != 0 and "world-writable" in r.stderr and "Traceback" not in r.stderr


# --- enrichment and the configuration file, end to end -------------------------

CONTAINER_ID = "c0ffee" + "ab" * 29
WORKLOAD = """
import os, sys
sys.stdin.readline()
for i in range(int(sys.argv[1])):
    try:
        os.open(f"/nonexistent/audit-heka-enrich/{i}", os.O_RDONLY)
    except FileNotFoundError:
        pass
print("done", flush=True)
sys.stdin.readline()  # stay alive until the events are shipped
"""


def fake_container_cgroup() -> Path | None:
    """A cgroup named like Docker's (``docker-ID.scope``) in a writable hierarchy."""
    for hierarchy in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        base = Path(hierarchy)
        if not (base / "cgroup.procs").exists():
            continue
        group = base / "audit-heka-test" / f"docker-{CONTAINER_ID}.scope"
        try:
            group.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        return group
    return None


def test_enrichment_and_config_file_end_to_end(audit_kernel: object, tmp_path: Path) -> None:
    from audit_state import require  # noqa: PLC0415 - tests/ helpers

    group = fake_container_cgroup()
    require(group is not None, "no writable cgroup hierarchy to fake a container in")
    assert group is not None
    workload = subprocess.Popen(
        [sys.executable, "-c", WORKLOAD, "20"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert workload.stdin is not None and workload.stdout is not None
    out = tmp_path / "out.heka"
    try:
        (group / "cgroup.procs").write_text(str(workload.pid))
        rules = tmp_path / "w.rules"
        rules.write_text(
            "-a always,exit -F arch=b64 -S open,openat -F exit=-ENOENT "
            f"-F pid={workload.pid} -k enrich\n"
        )
        conf = tmp_path / "audit-heka.toml"
        conf.write_text(
            f'target = ["file:{out}"]\n'
            f'rules = ["{rules}"]\n'
            "enrich = true\n"
            'type = "from_the_file"\n'
        )
        daemon = Daemon(tmp_path, "--config", str(conf), "--type", "from_the_cli")
        try:
            workload.stdin.write("go\n")
            workload.stdin.flush()
            assert workload.stdout.readline().strip() == "done"
            daemon.wait_for("enriched", 20, timeout=30)
            counters = daemon.counters()
        finally:
            assert daemon.stop() == 0, "".join(daemon.errors)
    finally:
        workload.stdin.write("exit\n")
        workload.stdin.close()
        workload.wait(10)
        workload.stdout.close()
        with contextlib.suppress(OSError):
            group.rmdir()
            group.parent.rmdir()
    decoded = subprocess.run(cli("decode", str(out)), capture_output=True, text=True, check=True)
    events = [
        m for m in map(json.loads, decoded.stdout.splitlines())
        if m["Fields"].get("key") == "enrich" and m["Fields"].get("type") == "SYSCALL"
    ]
    assert len(events) == 20, counters
    parent_exe = str(Path("/proc/self/exe").readlink())
    for message in events:
        assert message["Type"] == "from_the_cli"  # the command line wins over the file
        fields = message["Fields"]
        assert fields["pid"] == workload.pid
        assert fields["container_id"] == CONTAINER_ID
        assert fields["container_runtime"] == "docker"
        assert fields["ppid_exe"] == parent_exe
        assert "pod_uid" not in fields
    assert counters["enrich_pid_reused"] == 0


# --- TLS: verification on by default, a self-signed receiver only with --ca ------


def test_self_signed_receiver_refused_unless_the_config_names_it(
    audit_kernel: object, tmp_path: Path
) -> None:
    from audit_state import require_tool  # noqa: PLC0415 - tests/ helpers

    openssl = require_tool("openssl")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", "server.key", "-out", "server.pem", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    receiver = TlsReceiver(tmp_path)
    refused = Marker("selfsigned-refused", 10)
    rules = tmp_path / "m.rules"
    rules.write_text(refused.rule())
    daemon = Daemon(tmp_path, "--target", f"tls://127.0.0.1:{receiver.port}",
                    "--rules", str(rules))
    try:
        refused.go()
        refused.wait()
        daemon.wait_for("delivery_connect_errors", 1, timeout=30)
        time.sleep(0.5)
        counters = daemon.counters()
    finally:
        assert daemon.stop() == 0
    assert counters["delivery_sent"] == 0
    assert not any(n.startswith(f"{MARKER_DIR}/selfsigned") for n in receiver.names)
    assert "certificate verify failed" in "".join(daemon.errors)

    accepted = Marker("selfsigned-ok", 10)
    rules.write_text(accepted.rule())
    conf = tmp_path / "tls.toml"
    conf.write_text(f'ca = "{tmp_path / "server.pem"}"\n')
    daemon = Daemon(tmp_path, "--config", str(conf),
                    "--target", f"tls://127.0.0.1:{receiver.port}", "--rules", str(rules))
    try:
        accepted.go()
        accepted.wait()
        deadline = time.monotonic() + 30
        while not accepted.names() <= set(receiver.names):
            assert time.monotonic() < deadline, receiver.names
            time.sleep(0.1)
    finally:
        assert daemon.stop() == 0
    receiver.close()
