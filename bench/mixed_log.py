"""A REAL mixed audit log from the kernel: a broad rule set under a varied workload.

    .venv/bin/python bench/mixed_log.py                      # bench/work/mixed/audit.log
    .venv/bin/python bench/mixed_log.py --rounds 6 --format ENRICHED --out bench/work/mixed-e

Why: the per-event figures of issue 13 came from logs of one kind (a storm of
one failing open, one exec repeated) and from tests/capture.py's 45 events,
where nearly every record is new. A real log is neither: many record types,
values that repeat (the same programs, users, paths, keys) beside values that
never do (pids, pointers, inodes, temporary names). This captures such a log:
``auditd -n`` (RAW, or ENRICHED) writes what the kernel sends under rules in the
spirit of a STIG/CIS audit.rules -- execve, failed opens (ENOENT, EACCES,
EPERM), file deletion and renames, chmod/chown/xattr, connect/bind, mount,
set*id, reads of the user/group files, a watched directory -- while a
workload compiles bench/storm.c with cc, runs it briefly, archives and walks
/usr/share with tar and find, works in a git repository, runs Python
scripts, fails opens as nobody, mounts a tmpfs in a private mount namespace
and sends user messages.

Only the workload is audited (every syscall rule filters on its loginuid,
tests/capture.py's WORKLOAD_AUID): other work on the machine stays out. The
machine's users, groups and mounts are not changed (the mount happens in a
namespace of its own). The kernel is held under the tests' lock
(bench.kernel()) for the capture only and its audit state restored.

This file is also the workload: ``python mixed_log.py --workload DIR ROUNDS``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "tests"))

from capture import WORKLOAD_AUID, run_auditd  # noqa: E402

NOBODY = 65534
# Parts of /usr/share archived, extracted, chmod-ed and deleted each round: present on
# any Debian system, a few hundred files between them.
SHARE = ("zoneinfo/Europe", "zoneinfo/America", "doc/git", "doc/tar", "common-licenses")


def rules(workdir: Path) -> list[list[str]]:
    """A STIG/CIS-like rule set (arch b64), every syscall rule on the workload's auid."""
    auid = f"auid={WORKLOAD_AUID}"
    b64 = ["-a", "always,exit", "-F", "arch=b64"]
    out = [
        [*b64, "-S", "execve,execveat", "-F", auid, "-k", "exec"],
        [*b64, "-S", "creat,open,openat,truncate,ftruncate", "-F", "exit=-EACCES",
         "-F", auid, "-k", "access"],
        [*b64, "-S", "creat,open,openat,truncate,ftruncate", "-F", "exit=-EPERM",
         "-F", auid, "-k", "access"],
        [*b64, "-S", "open,openat", "-F", "exit=-ENOENT", "-F", auid, "-k", "noent"],
        [*b64, "-S", "unlink,unlinkat,rename,renameat,renameat2,rmdir", "-F", auid,
         "-k", "delete"],
        [*b64, "-S", "chmod,fchmod,fchmodat", "-F", auid, "-k", "perm_mod"],
        [*b64, "-S", "chown,fchown,fchownat,lchown", "-F", auid, "-k", "perm_mod"],
        [*b64, "-S", "setxattr,lsetxattr,fsetxattr,removexattr,lremovexattr,fremovexattr",
         "-F", auid, "-k", "perm_mod"],
        [*b64, "-S", "connect,bind", "-F", auid, "-k", "network"],
        [*b64, "-S", "mount,umount2", "-F", auid, "-k", "mounts"],
        [*b64, "-S", "setuid,setgid,setreuid,setregid,setresuid,setresgid", "-F", auid,
         "-k", "setid"],
        [*b64, "-S", "kill,tgkill", "-F", auid, "-k", "signals"],
    ]
    for path in ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"):
        # CIS watches writes (-p wa); the workload may not write them, so reads too.
        out.append(["-a", "always,exit", "-F", f"path={path}", "-F", "perm=rwa",
                    "-F", auid, "-k", "identity"])
    out.append(["-w", str(workdir / "watched"), "-p", "rwxa", "-k", "watched"])
    return out


def capture(out: Path, rounds: int, log_format: str) -> Path:
    """Run auditd -n and the workload under the kernel lock; return the log."""
    import bench  # noqa: PLC0415 - the kernel lock; imported here so --workload needs none

    out = out.resolve()  # auditd reads its paths from / (a relative one is not found)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "watched").mkdir()  # before the rules: auditctl makes -w a directory watch then
    workload = [sys.executable, str(Path(__file__).resolve()), "--workload", str(out),
                str(rounds)]
    with bench.kernel():
        lost = bench.kernel_status().get("lost", 0)
        bench.sh("auditctl", "-b", str(bench.BACKLOG_LIMIT))
        log = run_auditd(out, rules(out), workload, log_format, timeout=900)
        lost = bench.kernel_status().get("lost", 0) - lost
    print(f"{log}: kernel lost {lost} during the capture")
    return log


# ---------------------------------------------------------------- the workload


def _run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    subprocess.run(list(args), cwd=cwd, env=env, check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def _as_nobody(*args: str) -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *args]


def _python_round(workdir: Path, i: int) -> None:
    """A Python script's usual syscalls: imports, failed opens, connects, a rename."""
    script = workdir / f"script{i % 3}.py"
    script.write_text(
        "import json, os, socket, sys, tempfile\n"
        "for name in ('config.json', 'settings.ini', sys.argv[1]):\n"
        "    try:\n"
        "        open(os.path.join(sys.argv[2], name)).read()\n"
        "    except OSError:\n"
        "        pass\n"
        "for family, addr in ((socket.AF_INET, ('127.0.0.1', 9)),"
        " (socket.AF_INET6, ('::1', 9)), (socket.AF_UNIX, sys.argv[2] + '/nosock')):\n"
        "    with socket.socket(family, socket.SOCK_STREAM) as s:\n"
        "        try:\n"
        "            s.connect(addr)\n"
        "        except OSError:\n"
        "            pass\n"
        "fd, tmp = tempfile.mkstemp(dir=sys.argv[2])\n"
        "os.write(fd, json.dumps({'n': sys.argv[1]}).encode())\n"
        "os.close(fd)\n"
        "os.rename(tmp, os.path.join(sys.argv[2], 'state.json'))\n")
    _run(sys.executable, "-S", str(script), f"missing-{i}", str(workdir))


def _git_round(repo: Path, env: dict[str, str], i: int) -> None:
    if not (repo / ".git").exists():
        repo.mkdir(exist_ok=True)
        _run("git", "init", "-q", "-b", "main", str(repo), env=env)
    (repo / f"file{i % 4}.txt").write_text(f"round {i}\n" * (i + 1))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    _run(*git, "add", "-A", cwd=repo, env=env)
    _run(*git, "commit", "-q", "-m", f"round {i}", cwd=repo, env=env)
    _run(*git, "status", "--short", cwd=repo, env=env)
    _run(*git, "log", "--oneline", "-n", "3", cwd=repo, env=env)
    if i % 2:
        _run(*git, "checkout", "-q", "-b", f"topic{i}", cwd=repo, env=env)
        _run(*git, "checkout", "-q", "main", cwd=repo, env=env)
        _run(*git, "branch", "-q", "-D", f"topic{i}", cwd=repo, env=env)


def _files_round(workdir: Path, i: int) -> None:
    """tar and find over /usr/share: an archive, its extraction, chmod/chown, deletion."""
    share = [p for p in SHARE if (Path("/usr/share") / p).exists()]
    tree = workdir / "tree"
    archive = workdir / "share.tar"
    _run("tar", "cf", str(archive), "-C", "/usr/share", *share[i % len(share):][:2])
    tree.mkdir(exist_ok=True)
    _run("tar", "xf", str(archive), "-C", str(tree))
    _run("find", str(tree), "-type", "f", "-name", "*[0-9]*", "-exec", "chmod", "0600", "{}", "+")
    _run("find", str(tree), "-maxdepth", "2", "-type", "d", "-exec", "chown", "1:1", "{}", "+")
    _run("find", "/usr/share/doc", "-maxdepth", "2", "-name", f"*{i}*", "-newer", str(archive))
    _run("find", str(tree), "-delete")
    archive.unlink(missing_ok=True)


def _nobody_round(workdir: Path) -> None:
    """Failed opens as nobody (EACCES) and the set*id calls of becoming nobody."""
    _run(*_as_nobody("cat", "/etc/shadow", "/etc/gshadow"))
    _run(*_as_nobody("ls", "/root"))
    _run(*_as_nobody("find", "/etc", "-maxdepth", "2", "-name", "*.key"))
    _run(*_as_nobody("sh", "-c", f"echo x > {workdir}/watched/nobody-was-here"))


def _misc_round(workdir: Path, i: int) -> None:
    watched = workdir / "watched"
    note = watched / f"note{i % 5}"
    note.write_text(f"{i}\n")
    note.chmod(0o640 if i % 2 else 0o600)
    with contextlib.suppress(OSError):
        os.setxattr(note, "user.bench", str(i).encode())
    note.read_text()
    _run("id")
    _run("getent", "passwd", "root")
    _run("ls", "-l", str(watched))
    _run("unshare", "-m", "sh", "-c",
         f"mkdir -p {workdir}/mnt && mount -t tmpfs bench {workdir}/mnt && umount {workdir}/mnt")
    sleeper = subprocess.Popen(["sleep", "5"])
    sleeper.kill()
    sleeper.wait()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
    if i % 4 == 0:
        _run("auditctl", "-m", f"bench round {i}: op=backup acct=\"bench\" res=success")


def workload(workdir: Path, rounds: int) -> None:
    Path("/proc/self/loginuid").write_text(str(WORKLOAD_AUID))
    (workdir / "watched").mkdir(parents=True, exist_ok=True)  # (run alone, too)
    env = {**os.environ, "HOME": str(workdir), "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    build = workdir / "build"
    build.mkdir(exist_ok=True)
    for i in range(rounds):
        _run("cc", "-O2", "-o", str(build / "storm"), str(BENCH / "storm.c"), env=env)
        _run(str(build / "storm"), "1", "50")  # a short burst of one failing open
        _files_round(workdir, i)
        _git_round(workdir / "repo", env, i)
        for j in range(4):
            _python_round(workdir, i * 4 + j)
        _nobody_round(workdir)
        _misc_round(workdir, i)


def summary(log: Path) -> str:
    types: Counter[str] = Counter()
    events: set[str] = set()
    for line in log.read_bytes().decode("utf-8", "replace").split("\n"):
        head = line.split(" msg=audit(", 1)
        if len(head) == 2:
            types[head[0].rsplit("type=", 1)[-1]] += 1
            events.add(head[1].split(")", 1)[0])
    top = ", ".join(f"{t} {n}" for t, n in types.most_common())
    return f"{sum(types.values())} records, {len(events)} events: {top}"


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--workload":
        workload(Path(sys.argv[2]), int(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BENCH / "work" / "mixed")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--format", choices=("RAW", "ENRICHED"), default="RAW")
    args = parser.parse_args()
    log = capture(args.out.resolve(), args.rounds, args.format)  # (auditd: absolute paths)
    print(summary(log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
