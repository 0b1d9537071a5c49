"""bench/RESULTS.md: one document in which each benchmark owns only its marked sections.

Why: several scripts (bench.py, journal_bench.py, exec_bench.py, startup.py,
hotpath.py) write figures into the same file, and people write their analysis
between those figures. A script that rewrites the whole file wipes the other
scripts' figures and the notes. So each script replaces only the text between
its own ``<!-- NAME begin -->`` and ``<!-- NAME end -->`` markers; a section
not in the file yet is appended at its end (move it by hand once, it stays
where it is put). Everything outside the markers is hand-written and never
touched by a script.

Every section says when, at which commit and on which machine its figures were
measured (``stamp``): sections are rerun one at a time, so the file mixes runs.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"


class MarkerError(ValueError):
    """RESULTS.md has a section's begin marker without its end (or the reverse)."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name} begin -->", f"<!-- {name} end -->"


def render(name: str, lines: list[str]) -> str:
    """The section as it stands in the file, markers included."""
    begin, end = markers(name)
    return "\n".join([begin, "", *lines, "", end])


def replace_section(text: str, name: str, lines: list[str]) -> str:
    """``text`` with section ``name`` set to ``lines``; every other byte as it was."""
    begin, end = markers(name)
    block = render(name, lines)
    has_begin, has_end = begin in text, end in text
    if has_begin != has_end or (has_begin and text.index(begin) > text.index(end)):
        raise MarkerError(f"RESULTS.md: section {name!r} has a broken pair of markers "
                          f"({begin!r} ... {end!r}); fix the file by hand")
    if has_begin:
        return text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def write_section(name: str, lines: list[str], path: Path = RESULTS) -> None:
    """Replace section ``name`` of RESULTS.md (the file's other text stays byte for byte)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    path.write_text(replace_section(text, name, lines))


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def commit() -> str:
    """The checkout's commit, ``-dirty`` when code differs from it.

    RESULTS.md itself does not count: the runs write it, so after the first
    section every later one would say dirty.
    """
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                  f":!{RESULTS.relative_to(ROOT)}")
    return f"{head}-dirty" if changed else head


def machine() -> str:
    cpu = "unknown cpu"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ausearch = "ausearch not found"
    with contextlib.suppress(OSError):
        done = subprocess.run(["ausearch", "-v"], capture_output=True, text=True, check=False)
        ausearch = done.stdout.strip() or "ausearch"
    return (f"{platform.node()}: {os.cpu_count()} x {cpu}, kernel {platform.release()}, "
            f"Python {platform.python_version()}, {ausearch}")


def stamp(when: str, at_commit: str) -> str:
    """The line every section starts with: which run its figures come from."""
    return f"Run {when} at commit {at_commit} on {machine()}."
