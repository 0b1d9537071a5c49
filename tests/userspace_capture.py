"""Capture REAL user-space audit records: what sshd, cron, sudo, su and systemd write.

Why: on real servers most records of a quiet hour are written by user space
through libaudit -- PAM's USER_AUTH, USER_ACCT, CRED_ACQ, USER_START,
USER_END, CRED_DISP, sshd's USER_LOGIN, sudo's USER_CMD, systemd's
SERVICE_START/STOP -- each ``pid=.. uid=.. auid=.. ses=.. msg='op=...
acct=... exe=... hostname=... addr=... terminal=... res=...'``, and each new
one differs from the last in its pid, its session and a few words of its
msg. Hand-written lines only test what their author believed libaudit
writes; these go through the kernel and ``auditd -n`` (RAW or ENRICHED).

The workload (run as a child of ``auditd -n``'s capture, tests/capture.py's
``run_auditd``) is the real thing where this machine has it and libaudit's
own calls (python3-audit) where it does not:

* ``runuser`` and ``su`` as root: PAM (libpam is built with audit) writes
  their USER_ACCT, CRED_ACQ, USER_START, USER_END, CRED_DISP (and su's
  USER_AUTH) itself;
* logins as sshd and cron make them: a child process per session takes a
  new login uid through ``/proc/self/loginuid`` (as pam_loginuid does: the
  kernel writes LOGIN and gives it a new ``ses``), and libaudit's
  audit_log_acct_message writes the PAM records with sshd's or cron's name
  as ``exe`` -- authentications that fail for unknown accounts from many
  addresses among them, as on any host reachable by ssh;
* sudo's USER_CMD (audit_log_user_command), systemd's SERVICE_START/STOP
  (audit_log_user_comm_message), dbus's USER_AVC
  (audit_log_user_avc_message), and ``auditctl -m`` (USER).

Sessions run as root, as uid 1000 and as an id with no account
(UNKNOWN_UID): its texts read ``unknown(4243)``. Commands of the sessions of
uid 1000 and UNKNOWN_UID are audited by an execve rule (kernel events
between the user-space ones, as on a real server). Nothing on the machine
changes: no account is created, the ``runuser``/``su`` sessions run
``/bin/true``.

``python userspace_capture.py --workload DIR ROUNDS`` is the workload.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

UNKNOWN_UID = 4243  # a login uid with no account (an attacker's or a deleted user's)
KNOWN_UID = 1000
PACE = 0.1  # seconds between rounds (~60 records each)
SSHD = "/usr/sbin/sshd"
CRON = "/usr/sbin/cron"
# Documentation addresses (RFC 5737, RFC 3849): text in the records, no traffic.
CLIENTS = ("192.0.2.10", "192.0.2.11", "198.51.100.7", "2001:db8::5")
ATTACKERS = tuple(f"203.0.113.{n}" for n in range(1, 40))
GUESSED = ("admin", "test", "oracle", "ubuntu", "git", "postgres", "user")
UNITS = ("cron.service", "apt-daily.service", "logrotate.service", "man-db.service",
         "user@1000.service", "systemd-tmpfiles-clean.service")
COMMANDS = ("/usr/bin/systemctl restart nginx", "/usr/bin/apt-get update",
            "/usr/bin/journalctl -u ssh --since today", "/bin/ls -la /root",
            "/usr/bin/tail -n 50 /var/log/syslog")


def rules() -> list[list[str]]:
    """The sessions' commands: execve of the two non-root login uids."""
    return [["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F",
             f"auid={uid}", "-k", "session-exec"] for uid in (KNOWN_UID, UNKNOWN_UID)]


def capture_userspace(workdir: Path, rounds: int, log_format: str = "RAW",
                      with_node: bool = False, timeout: float = 300.0) -> Path:
    """Run ``auditd -n`` while the workload runs ``rounds`` rounds; return the log.

    The caller holds the kernel (tests/audit_state.py's lock and restore).
    """
    from capture import run_auditd  # noqa: PLC0415 - beside this file (tests/ on the path)

    workload = ["/usr/bin/python3", str(Path(__file__).resolve()), "--workload",
                str(workdir), str(rounds)]
    return run_auditd(workdir, rules(), workload, log_format, with_node, timeout)


# ---------------------------------------------------------------- the workload
# (run by /usr/bin/python3, which has the audit bindings: no import from the project)


def _in_child(work: Callable[..., None], *args: object) -> None:
    """Run ``work(*args)`` in a child process (a new pid, as each sshd/cron session has)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work(*args)
            code = 0
        finally:
            os._exit(code)
    os.waitpid(pid, 0)


def _login(uid: int) -> None:
    """What pam_loginuid does: the kernel logs LOGIN and starts a new session."""
    Path("/proc/self/loginuid").write_text(str(uid))


def workload(rounds: int) -> None:  # pragma: no cover - runs in /usr/bin/python3
    import audit  # type: ignore[import-not-found]  # noqa: PLC0415 - python3-audit's libaudit

    os.chdir("/")  # sudo's cwd= (USER_CMD): not the checkout's path
    fd = audit.audit_open()

    def acct(rtype: int, exe: str, op: str, name: str, host: str, addr: str, tty: str,
             ok: bool = True) -> None:
        # name=None and id: audit_log_acct_message writes id= instead of acct=
        audit.audit_log_acct_message(fd, rtype, exe, op, name, 4294967295, host, addr, tty,
                                     1 if ok else 0)

    def pam(rtype: int, exe: str, op: str, grantors: str, name: str, host: str, addr: str,
            tty: str, ok: bool = True) -> None:
        acct(rtype, exe, f"PAM:{op} grantors={grantors if ok else '?'}", name, host, addr,
             tty, ok)

    def ssh_session(name: str, uid: int, addr: str, commands: int, n: int) -> None:
        grant = "pam_permit" if uid else "pam_unix"
        pam(audit.AUDIT_USER_AUTH, SSHD, "authentication", grant, name, addr, addr, "ssh")
        pam(audit.AUDIT_USER_ACCT, SSHD, "accounting", "pam_permit", name, addr, addr, "ssh")
        pam(audit.AUDIT_CRED_ACQ, SSHD, "setcred", "pam_permit", name, addr, addr, "ssh")
        _login(uid)
        pam(audit.AUDIT_USER_START, SSHD, "session_open",
            "pam_loginuid,pam_keyinit,pam_permit,pam_umask,pam_unix,pam_systemd,pam_mail,"
            "pam_limits,pam_env,pam_env", name, addr, addr, "ssh")
        tty = f"/dev/pts/{n % 4}"
        audit.audit_log_acct_message(fd, audit.AUDIT_USER_LOGIN, SSHD, "login", None, uid,
                                     addr, addr, tty, 1)
        for c in range(commands):
            command = COMMANDS[(n + c) % len(COMMANDS)]
            audit.audit_log_user_command(fd, audit.AUDIT_USER_CMD, command, tty[5:],
                                         0 if (n + c) % 7 == 0 else 1)
            if uid:  # the session's own commands (the execve rule)
                subprocess.run(["/bin/true", str(c)], check=False)
        pam(audit.AUDIT_USER_END, SSHD, "session_close",
            "pam_loginuid,pam_keyinit,pam_permit,pam_umask,pam_unix,pam_systemd,pam_mail,"
            "pam_limits,pam_env,pam_env", name, addr, addr, "ssh")
        pam(audit.AUDIT_CRED_DISP, SSHD, "setcred", "pam_permit", name, addr, addr, "ssh")
        audit.audit_log_acct_message(fd, audit.AUDIT_USER_LOGOUT, SSHD, "login", None, uid,
                                     addr, addr, tty, 1)

    def cron_job() -> None:
        pam(audit.AUDIT_USER_ACCT, CRON, "accounting", "pam_permit", "root", "?", "?", "cron")
        pam(audit.AUDIT_CRED_ACQ, CRON, "setcred", "pam_permit,pam_cap", "root", "?", "?",
            "cron")
        _login(0)
        pam(audit.AUDIT_USER_START, CRON, "session_open",
            "pam_loginuid,pam_env,pam_env,pam_permit,pam_unix,pam_limits", "root", "?", "?",
            "cron")
        pam(audit.AUDIT_CRED_REFR, CRON, "setcred", "pam_permit,pam_cap", "root", "?", "?",
            "cron")
        pam(audit.AUDIT_CRED_DISP, CRON, "setcred", "pam_permit,pam_cap", "root", "?", "?",
            "cron")
        pam(audit.AUDIT_USER_END, CRON, "session_close",
            "pam_loginuid,pam_env,pam_env,pam_permit,pam_unix,pam_limits", "root", "?", "?",
            "cron")

    def failed_ssh(n: int) -> None:
        addr = ATTACKERS[(n * 7) % len(ATTACKERS)]
        name = GUESSED[n % len(GUESSED)]
        pam(audit.AUDIT_USER_AUTH, SSHD, "authentication", "", name, addr, addr, "ssh",
            ok=False)
        pam(audit.AUDIT_USER_ACCT, SSHD, "accounting", "", name, addr, addr, "ssh", ok=False)
        audit.audit_log_acct_message(fd, audit.AUDIT_USER_LOGIN, SSHD, "login", name,
                                     4294967295, addr, addr, "ssh", 0)

    for n in range(rounds):
        for _ in range(3):
            _in_child(cron_job)
        for k in range(4):
            _in_child(failed_ssh, n * 4 + k)
        who = [("root", 0), ("cloudsdk", KNOWN_UID), ("deploy", UNKNOWN_UID)][n % 3]
        addr = CLIENTS[n % len(CLIENTS)]
        _in_child(ssh_session, who[0], who[1], addr, 1 + n % 3, n)
        # Real PAM: runuser (session) and su (authentication by pam_rootok too).
        subprocess.run(["runuser", "-u", "nobody", "--", "/bin/true"], check=False)
        if n % 2 == 0:
            subprocess.run(["su", "-s", "/bin/true", "nobody"], check=False)
        unit = UNITS[n % len(UNITS)]
        for rtype in (audit.AUDIT_SERVICE_START, audit.AUDIT_SERVICE_STOP):
            audit.audit_log_user_comm_message(fd, rtype, f"unit={unit}", "systemd", None,
                                              None, None, 1 if n % 11 else 0)
        if n % 5 == 0:
            audit.audit_log_user_avc_message(
                fd, audit.AUDIT_USER_AVC,
                "avc:  denied  { send_msg } for msgtype=method_call"
                " interface=org.freedesktop.DBus.Properties member=GetAll"
                f" dest=org.freedesktop.systemd1 spid={1000 + n} tpid=1"
                " scontext=system_u:system_r:unconfined_t:s0"
                " tcontext=system_u:system_r:init_t:s0 tclass=dbus permissive=0",
                None, None, None, 0)
        if n % 10 == 0:
            subprocess.run(["auditctl", "-m", f"backup round {n} done"], check=False)
        # A server's pace, not a burst: in log mode a user record waits 2 s of event time
        # for records of its serial (audit_heka.core.events), and a burst of thousands would
        # only measure the assembler's overflow.
        time.sleep(PACE)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--workload":
        workload(int(sys.argv[3]))
    else:
        sys.exit("usage: userspace_capture.py --workload DIR ROUNDS")
