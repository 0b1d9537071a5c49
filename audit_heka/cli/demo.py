"""``audit-heka demo``: the whole job in one command, on the live kernel.

It starts ``audit-heka listen`` on a loopback port (the stand-in for Heka's
TcpInput), runs ``audit-heka run`` against it with a small rule set that
audits only the demo's own children, runs a few commands, and prints each
decoded event as the receiver gets it. On exit the daemon hands the audit
pid back and restores the rules and settings it found, and the demo shows
the kernel's state to prove it.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import click


def demo_commands(watched: Path) -> list[list[str]]:
    """What the demo runs: an exec, a read of a watched file, a failing open, quoting."""
    return [
        ["/usr/bin/true"],
        ["/usr/bin/id", "-un"],
        ["/bin/cat", str(watched)],
        ["/bin/cat", "/nonexistent/audit-heka-demo"],
        ["/bin/sh", "-c", "echo 'a quoted \"argument\" with spaces' > /dev/null"],
    ]


#: The C locale: the commands do not go looking for locale files (each a failing open).
COMMAND_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}


def demo_rules(parent: int, watched: Path) -> str:
    """Rules that audit only what the demo itself runs (its children)."""
    return "\n".join(
        [
            "# audit-heka demo rules: only the demo's own children",
            f"-a always,exit -F arch=b64 -S execve -F ppid={parent} -k demo-exec",
            f"-a always,exit -F arch=b64 -S open,openat -F exit=-ENOENT -F ppid={parent}"
            " -k demo-enoent",
            f"-w {watched} -p r -k demo-watch",
            "",
        ]
    )


def summarise(msg: dict[str, Any]) -> str:
    """One line a person can read, from the JSON the receiver printed."""
    f = msg.get("Fields", {})
    if msg.get("Type") == "audit_heka_health":
        counters = ("messages", "kernel_lost", "serial_gaps", "oversize", "delivery_sent")
        shown = " ".join(f"{k}={f[k]}" for k in counters if k in f)
        return f"health  [{f.get('report')}] {shown}"
    when = time.strftime("%H:%M:%S", time.localtime(msg["Timestamp"] / 1e9))
    parts = [f"{when} serial={f.get('serial')} {f.get('type')}"]
    for key in ("syscall_i", "key", "exe", "exit_i", "uid_i"):
        if key in f:
            parts.append(f"{key.removesuffix('_i')}={f[key]}")
    if "argv" in f:
        argv = f["argv"] if isinstance(f["argv"], list) else [f["argv"]]
        parts.append("argv=" + json.dumps(argv, ensure_ascii=False))
    if "name_i" in f:
        parts.append(f"name={f['name_i']}")
    return " ".join(str(p) for p in parts)


def _pump(stream: IO[str], into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "audit_heka", *args]


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Receiver port (0: any).")
@click.option("--seconds", type=float, default=4.0, show_default=True,
              help="How long to wait for the events after the commands ran.")
@click.option("--full", is_flag=True, help="Print every event's full JSON, not a summary.")
def demo(port: int, seconds: float, full: bool) -> None:
    """Show live kernel audit events flowing to a Heka receiver."""
    if os.geteuid() != 0:
        raise click.ClickException("the demo talks to the kernel's audit subsystem: run it as root")
    with tempfile.TemporaryDirectory(prefix="audit-heka-demo-") as tmp:
        work = Path(tmp)
        watched = work / "watched.txt"
        watched.write_text("read me\n")
        rules = work / "demo.rules"
        rules.write_text(demo_rules(os.getpid(), watched))
        click.echo("== audit-heka demo ==")
        click.echo(f"rules:\n{rules.read_text()}")
        listener = subprocess.Popen(
            _cli("listen", "--address", f"127.0.0.1:{port}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert listener.stdout is not None and listener.stderr is not None
        banner = listener.stderr.readline().strip()
        match = re.search(r"tcp (\S+):(\d+)$", banner)
        if match is None:
            listener.kill()
            raise click.ClickException(f"the receiver did not start: {banner}")
        address = f"{match.group(1)}:{match.group(2)}"
        click.echo(f"receiver: audit-heka listen on {address} (a Heka TcpInput stand-in)")
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(listener.stdout, lines), daemon=True).start()
        daemon = subprocess.Popen(
            _cli(
                "run",
                "--target", address,
                "--rules", str(rules),
                "--state-dir", str(work / "state"),
                "--status-file", str(work / "status.json"),
                "--health-interval", "3",
            ),
            stderr=subprocess.PIPE,
            text=True,
        )
        assert daemon.stderr is not None
        try:
            seen: list[str] = []
            while "running" not in (started := daemon.stderr.readline()):
                seen.append(started)
                if not started:
                    raise click.ClickException("the daemon did not start: " + "".join(seen))
            click.echo(f"daemon:   {started.strip().partition('audit-heka: INFO ')[2]}\n")
            for argv in demo_commands(watched):
                click.echo(f"$ {' '.join(argv)}")
                subprocess.run(argv, check=False, capture_output=True, env=COMMAND_ENV)
            click.echo("\nevents received by the receiver:")
            _show(lines, seconds, full)
        finally:
            if daemon.poll() is None:
                daemon.terminate()
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
            _show(lines, 1.0, full)
            listener.terminate()
            listener.wait(timeout=10)
        click.echo(f"\ndaemon exited with status {daemon.returncode}; the kernel now says:")
        subprocess.run(_cli("status"), check=False)
        subprocess.run(_cli("rules", "list"), check=False)


def _show(lines: queue.Queue[str | None], seconds: float, full: bool) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return
        if line is None:
            return
        msg = json.loads(line)
        if full:
            click.echo(json.dumps(msg, indent=1, ensure_ascii=False))
        else:
            click.echo("  " + summarise(msg))
