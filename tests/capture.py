"""Capture REAL audit logs from the live kernel, for tests that need a corpus.

Why: hand-written audit lines only test what their author believed the kernel
writes. The interpretation agreement tests (ausearch/auparse) and the replay
tests run on logs that the kernel and a real ``auditd`` produced on this
machine, in RAW and ENRICHED format, from a workload that covers the hard
cases (long/spaced/quoted/non-ASCII execve arguments split into aN[i] chunks
and across several EXECVE records, failing opens, connects over
inet/inet6/unix/abstract sockets, chmod/chown, a watch, user messages).

The caller must own the kernel's audit state (the ``audit_kernel`` lock and
restore logic from tests/conftest.py; tests/kernel/conftest.py wraps this in a
session fixture). ``auditd -n`` runs in the foreground with a temporary config
directory and is stopped with SIGTERM; the auditd service is never touched.

Only the workload's processes are audited by the syscall rules: the workload
first sets its own loginuid to WORKLOAD_AUID, and every rule filters on it, so
concurrent activity on the machine does not flood the corpus.

This file is also the workload itself: ``python capture.py --workload DIR``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

WORKLOAD_AUID = 4242
END_MARKER = "audit-heka-capture-end"
LONG_PLAIN = "x" * 10000  # > 7500 bytes: logged as a4_len + a4[i] chunks (quoted)
LONG_SPACED = "a b " * 2600  # > 7500 bytes with spaces: hex chunks
SMALL_ARGS = ("hello world", 'say "hi"', "héllo wörld ✓", "plain", "")
FILLER = tuple(f"fill{i:02d}-" + "y" * 600 for i in range(20))  # spread over EXECVE records
EXEC_ARGV = ("/bin/true", *SMALL_ARGS, LONG_PLAIN, LONG_SPACED, *FILLER)
USER_MESSAGES = ("audit-heka test message", "op=fake acct=\"root\" res=success")


@dataclass(frozen=True)
class CapturedLog:
    """A log file written by auditd during the workload, and what the workload did."""

    path: Path
    log_format: str  # "RAW" or "ENRICHED"
    with_node: bool  # auditd's name_format wrote node= prefixes
    workdir: Path  # the workload's temporary directory (watched dir, sockets, files)
    exec_argv: tuple[str, ...]
    user_messages: tuple[str, ...]
    auid: int


UNIX_SOCKET = ".{7e2c} s"  # (a unix socket path holds at most 107 bytes)


def _auditd_conf(workdir: Path, log_file: Path, log_format: str, with_node: bool,
                 freq: int = 1) -> str:
    plugins = workdir / "plugins.d"
    plugins.mkdir(exist_ok=True)
    return "\n".join(
        [
            "local_events = yes",
            "write_logs = yes",
            f"log_file = {log_file}",
            "log_group = root",
            f"log_format = {log_format}",
            "flush = INCREMENTAL_ASYNC",
            f"freq = {freq}",
            "max_log_file = 0",
            "num_logs = 0",
            "max_log_file_action = IGNORE",
            "priority_boost = 0",
            f"name_format = {'HOSTNAME' if with_node else 'NONE'}",
            "space_left = 2",
            "space_left_action = IGNORE",
            "admin_space_left = 1",
            "admin_space_left_action = IGNORE",
            "disk_full_action = IGNORE",
            "disk_error_action = IGNORE",
            "verify_email = no",
            "q_depth = 2000",
            "overflow_action = IGNORE",
            "max_restarts = 0",
            f"plugin_dir = {plugins}",
            "end_of_event_timeout = 2",
            "",
        ]
    )


def _auditctl(*args: str) -> None:
    done = subprocess.run(["auditctl", *args], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"auditctl {' '.join(args)} failed: {done.stderr.strip()}")


def _kernel_pid() -> int:
    out = subprocess.run(["auditctl", "-s"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "pid":
            return int(parts[1])
    return 0


def _rules(workdir: Path) -> list[list[str]]:
    auid = f"auid={WORKLOAD_AUID}"
    watched = workdir / "watched"
    return [
        ["-a", "always,exit", "-F", "arch=b64", "-S", "execve,execveat", "-F", auid, "-k", "exec"],
        ["-a", "always,exit", "-F", "arch=b64", "-S", "open,openat", "-F", "exit=-ENOENT",
         "-F", auid, "-k", "failopen"],
        ["-a", "always,exit", "-F", "arch=b64", "-S", "open,openat", "-F", "exit=-EACCES",
         "-F", auid, "-k", "failopen"],
        ["-a", "always,exit", "-F", "arch=b64", "-S", "connect", "-F", auid, "-k", "conn"],
        ["-a", "always,exit", "-F", "arch=b64", "-S", "chmod,fchmod,fchmodat",
         "-S", "chown,fchown,fchownat,lchown", "-F", auid, "-k", "perm", "-k", "attr"],
        ["-w", str(watched), "-p", "rwa", "-k", "watch"],
    ]


def every_call_rules(workdir: Path) -> list[list[str]]:
    """Every system call of the workload, and the usual watch: what a broad rule set
    makes the kernel write (mmap and ioctl requests, clone flags, prctl options...),
    beyond the named calls of :func:`_rules`. 64-bit only: the workload runs no 32-bit
    program, and a kernel without IA32 emulation refuses an arch=b32 rule."""
    auid = f"auid={WORKLOAD_AUID}"
    return [
        ["-a", "always,exit", "-F", "arch=b64", "-S", "all", "-F", auid, "-k", "every"],
        ["-w", str(workdir / "watched"), "-p", "rwa", "-k", "watch"],
    ]


def run_auditd(
    workdir: Path,
    rules: list[list[str]],
    workload: list[str],
    log_format: str = "RAW",
    with_node: bool = False,
    timeout: float = 30.0,
) -> Path:
    """Run ``auditd -n`` with ``rules`` while ``workload`` runs; return the log.

    The caller holds the kernel (lock, snapshot, restore). Rules added here are
    removed here too (``auditctl -D``), and auditd unregisters itself on SIGTERM.
    The log is complete when this returns: a user message sent after the
    workload is waited for in the file.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    confdir = workdir / "etc"
    confdir.mkdir(exist_ok=True)
    log_file = workdir / "audit.log"
    conf = confdir / "auditd.conf"
    conf.write_text(_auditd_conf(workdir, log_file, log_format, with_node))
    conf.chmod(0o640)
    stderr = (workdir / "auditd.stderr").open("wb")
    auditd = subprocess.Popen(
        ["auditd", "-n", "-s", "nochange", "-c", str(confdir)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        deadline = time.monotonic() + timeout
        while _kernel_pid() != auditd.pid:
            if auditd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"auditd did not register: {(workdir / 'auditd.stderr').read_text()}"
                )
            time.sleep(0.05)
        _auditctl("-e", "1")
        for rule in rules:
            _auditctl(*rule)
        subprocess.run(workload, check=True, timeout=timeout)
        _auditctl("-m", END_MARKER)
        while END_MARKER not in log_file.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise RuntimeError("auditd did not write the end marker in time")
            time.sleep(0.05)
    finally:
        with contextlib.suppress(RuntimeError):
            _auditctl("-D")
        auditd.send_signal(signal.SIGTERM)
        try:
            auditd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            auditd.kill()
            auditd.wait()
        stderr.close()
    return log_file


def capture(workdir: Path, log_format: str = "RAW", with_node: bool = False,
            timeout: float = 30.0, every_call: bool = False) -> CapturedLog:
    """Run auditd + the workload once; return the log it wrote (``every_call``: under
    :func:`every_call_rules`)."""
    (workdir / "watched").mkdir(parents=True, exist_ok=True)
    log_file = run_auditd(
        workdir,
        every_call_rules(workdir) if every_call else _rules(workdir),
        [sys.executable, str(Path(__file__).resolve()), "--workload", str(workdir)],
        log_format,
        with_node,
        timeout,
    )
    return CapturedLog(
        path=log_file,
        log_format=log_format,
        with_node=with_node,
        workdir=workdir,
        exec_argv=EXEC_ARGV,
        user_messages=USER_MESSAGES,
        auid=WORKLOAD_AUID,
    )


# ---------------------------------------------------------------- the workload


def _connect(family: int, address: tuple[str, int] | str) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as s, contextlib.suppress(OSError):
        s.settimeout(1)
        s.connect(address)


def _newer_calls(workdir: Path) -> None:
    """openat2 (an OPENAT2 record: oflag, mode, resolve) and a BPF program loaded and
    unloaded (BPF records: prog-id, op), called through libc's syscall(): Python has
    no wrapper for either. Errors are ignored (an older kernel has neither)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    for name, flags, mode, resolve in (
            ("missing-file", os.O_RDONLY | os.O_CLOEXEC, 0, 0x04),  # RESOLVE_NO_SYMLINKS
            ("created", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640, 0x08)):  # _BENEATH
        how = ctypes.create_string_buffer(struct.pack("QQQ", flags, mode, resolve), 24)
        fd = libc.syscall(437, -100, str(workdir / name).encode(), how, ctypes.c_size_t(24))
        if fd >= 0:
            os.close(fd)
    # bpf(BPF_PROG_LOAD) of a socket filter that returns 0: mov r0, 0; exit.
    insns = ctypes.create_string_buffer(bytes.fromhex("b700000000000000" "9500000000000000"))
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(144)
    struct.pack_into("IIQQ", attr, 0, 1, 2, ctypes.addressof(insns), ctypes.addressof(license_))
    fd = libc.syscall(321, 5, attr, ctypes.c_uint(len(attr)))
    if fd >= 0:
        os.close(fd)


#: landlock_create_ruleset(2) with this flag returns the Landlock ABI version; 7 (Linux
#: 6.15) is the first whose denials the kernel audits (LANDLOCK_ACCESS 1423 and
#: LANDLOCK_DOMAIN 1424: ``UNKNOWN[1423]`` to libaudit 3.0.9, as auditd writes them).
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_AUDITED_ABI = 7
LANDLOCKED = "landlocked"  # the file a Landlock-restricted child may not create


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 without Landlock."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    version: int = libc.syscall(444, None, ctypes.c_size_t(0),
                                ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(0, version)


def landlock_denial(workdir: Path) -> int:
    """A child (its pid returned) that restricts itself with Landlock (no regular file
    made), then tries to create one: EACCES, which the kernel audits (an event of
    LANDLOCK_ACCESS, LANDLOCK_DOMAIN, SYSCALL and PROCTITLE; later a lone
    LANDLOCK_DOMAIN when the domain is freed). Nothing happens on a kernel without
    Landlock."""
    child = os.fork()
    if child == 0:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            make_reg = ctypes.create_string_buffer(struct.pack("Q", 1 << 8), 8)
            ruleset = libc.syscall(444, make_reg, ctypes.c_size_t(8), ctypes.c_uint32(0))
            if ruleset >= 0 and libc.prctl(38, 1, 0, 0, 0) == 0 and (  # PR_SET_NO_NEW_PRIVS
                    libc.syscall(446, ruleset, ctypes.c_uint32(0)) == 0):
                with contextlib.suppress(PermissionError):
                    (workdir / LANDLOCKED).open("w").close()
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    return child


def workload(workdir: Path) -> None:
    """What the audited process does (runs as a child, under WORKLOAD_AUID)."""
    Path("/proc/self/loginuid").write_text(str(WORKLOAD_AUID))
    # execve: long, spaced, quoted, non-ASCII, empty arguments over several EXECVE records.
    subprocess.run(list(EXEC_ARGV), check=True)
    # A failing execve (ENOENT) and an exec through a path with a space.
    with contextlib.suppress(OSError):
        subprocess.run([str(workdir / "no such program")], check=False)
    # Failing opens: ENOENT as root, EACCES as nobody.
    for name in ("missing-file", "missing dir/with space", "nön-ascii"):
        with contextlib.suppress(OSError):
            (workdir / name).open()
    secret = workdir / "secret"
    secret.write_text("s")
    secret.chmod(0o600)
    child = os.fork()
    if child == 0:
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                secret.open()
            except PermissionError:
                code = 0
        finally:
            os._exit(code)
    os.waitpid(child, 0)
    # Connects over inet, inet6, unix (path) and unix (abstract).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    _connect(socket.AF_INET, listener.getsockname())
    listener.close()
    _connect(socket.AF_INET6, ("::1", 9))
    # A path with braces and a space, as programs name theirs (".{GUID}"): auditd's
    # ENRICHED writer prints it as it is, inside SADDR={ ... }.
    unix_path = str(workdir / UNIX_SOCKET)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(unix_path)
    server.listen(1)
    _connect(socket.AF_UNIX, unix_path)
    server.close()
    _connect(socket.AF_UNIX, "\0audit-heka-abstract")
    # chmod / chown, inside the watched directory (so the watch fires too).
    target = workdir / "watched" / "file"
    target.write_text("watched\n")
    target.chmod(0o640)
    os.chown(target, 1, 1)
    target.read_text()
    _newer_calls(workdir)
    landlock_denial(workdir)
    # A crash (SIGSEGV): an ANOM_ABEND record; the core limit 0, so no core file.
    subprocess.run([sys.executable, "-c", "import os, resource; resource.setrlimit("
                    "resource.RLIMIT_CORE, (0, 0)); os.kill(os.getpid(), 11)"], check=False)
    # User messages (AUDIT_USER via auditctl -m).
    for text in USER_MESSAGES:
        subprocess.run(["auditctl", "-m", text], check=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--workload":
        workload(Path(sys.argv[2]))
    else:
        sys.exit("usage: capture.py --workload DIR")
