"""bench/RESULTS.md: each benchmark rewrites its own marked sections and no other byte.

Why: bench.py once rewrote the whole file and wiped the sections other scripts
had written and the hand-written analysis between them. bench/results.py is
the one place that edits the file; every writer goes through it.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _results() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_results", BENCH / "results.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DOC = """# Benchmark results

Hand-written intro.

<!-- a begin -->

old a

<!-- a end -->

Notes about a, by hand.

<!-- b begin -->

old b

<!-- b end -->
tail without a newline"""


def test_replacing_one_section_keeps_every_other_byte() -> None:
    results = _results()
    out = results.replace_section(DOC, "a", ["## A", "", "| x |"])
    assert out == DOC.replace("old a", "## A\n\n| x |")
    # the same figures again: the same file
    assert results.replace_section(out, "a", ["## A", "", "| x |"]) == out


def test_a_new_section_is_appended_and_then_replaced_in_place() -> None:
    results = _results()
    out = results.replace_section(DOC, "c", ["new c"])
    assert out.startswith(DOC + "\n\n<!-- c begin -->\n\nnew c\n\n<!-- c end -->")
    again = results.replace_section(out + "\nmore notes\n", "c", ["newer c"])
    assert again == out.replace("new c", "newer c") + "\nmore notes\n"


@pytest.mark.parametrize("broken", [
    DOC.replace("<!-- b end -->", ""),
    DOC.replace("<!-- b begin -->", ""),
    # end before begin
    DOC.replace("<!-- b begin -->", "@").replace("<!-- b end -->", "<!-- b begin -->")
    .replace("@", "<!-- b end -->"),
])
def test_broken_markers_are_an_error_not_a_rewrite(broken: str) -> None:
    results = _results()
    with pytest.raises(results.MarkerError, match="'b'"):
        results.replace_section(broken, "b", ["new b"])


def test_write_section_edits_the_file_in_place(tmp_path: Path) -> None:
    results = _results()
    path = tmp_path / "RESULTS.md"
    path.write_text(DOC)
    results.write_section("b", ["new b"], path)
    assert path.read_text() == DOC.replace("old b", "new b")


def test_no_bench_script_writes_results_md_itself() -> None:
    """Every writer goes through results.write_section (no second copy of the logic)."""
    offenders = []
    for script in sorted(BENCH.glob("*.py")):
        if script.name == "results.py":
            continue
        text = script.read_text()
        if re.search(r"RESULTS\b[^\n]*\.write_text|begin -->", text):
            offenders.append(script.name)
    assert not offenders


def test_results_md_markers_are_paired() -> None:
    text = (BENCH / "RESULTS.md").read_text()
    begins = re.findall(r"<!-- (\S+) begin -->", text)
    ends = re.findall(r"<!-- (\S+) end -->", text)
    assert begins == ends
    assert len(set(begins)) == len(begins)
    for name in begins:
        assert text.index(f"<!-- {name} begin -->") < text.index(f"<!-- {name} end -->")
