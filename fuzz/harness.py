"""What every fuzz target shares: instrumentation on demand and the atheris main loop.

Why on demand: the test suite imports the targets to replay the corpus and
must not need atheris (nor pay for coverage instrumentation); only a target
run as a program instruments audit_heka's modules as it imports them.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

#: Where the checked-in seed corpus and every minimised finding live.
CORPUS_ROOT = Path(__file__).resolve().parent.parent / "tests" / "data" / "fuzz"


@contextlib.contextmanager
def instrumented(active: bool) -> Iterator[None]:
    """Instrument the audit_heka modules imported inside the block, when ``active``.

    A target passes ``__name__ == "__main__"``: under the fuzzer the parsers
    get coverage feedback; imported by a test, this is a no-op.
    """
    if not active:
        yield
        return
    atheris = importlib.import_module("atheris")  # only a fuzzing run needs it (no stubs)

    with atheris.instrument_imports(include=["audit_heka"]):
        yield


def run(one_input: Callable[[bytes], None]) -> None:
    """Hand ``one_input`` to libFuzzer; command-line options are libFuzzer's."""
    atheris = importlib.import_module("atheris")  # only a fuzzing run needs it (no stubs)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


def text(data: bytes) -> str:
    """Input bytes as the replay reader decodes a log line (invalid UTF-8 replaced)."""
    return data.decode("utf-8", "replace")
