"""The optional compiled build: mypyc compiles the hot modules when asked.

    pip install .                              # pure Python (the default; no compiler needed)
    AUDIT_HEKA_COMPILE=mypyc pip install .     # the hot path compiled with mypyc (needs gcc,
                                               # python3-dev; buildsys/ adds mypy to the build)

Everything else (metadata, packages, entry points) is in pyproject.toml. The
compiled modules behave exactly as the pure ones (CI replays the corpora
through both builds and compares the frames byte for byte); they are faster
because mypyc turns the annotated code into C. It also enforces annotations
at run time, which is why these modules must be honest about their types.
"""

from __future__ import annotations

import os

from setuptools import setup

#: The per-event path: record text -> events -> interpretation -> message -> frame.
COMPILED_MODULES = [
    "audit_heka/core/records.py",
    "audit_heka/core/events.py",
    "audit_heka/core/interpret.py",
    "audit_heka/core/schema.py",
    "audit_heka/heka/message.py",
    "audit_heka/heka/framing.py",
    "audit_heka/core/session.py",
    "audit_heka/core/hotpath.py",
    "audit_heka/core/entries.py",
    "audit_heka/core/plans.py",
    "audit_heka/core/record_entries.py",
    "audit_heka/core/line_entries.py",
    # the base of the values above: a compiled class must not derive from an interpreted one
    "audit_heka/value.py",
]

mode = os.environ.get("AUDIT_HEKA_COMPILE", "")
if mode == "mypyc":
    from mypyc.build import mypycify

    setup(ext_modules=mypycify(COMPILED_MODULES, opt_level="3"))
elif mode:
    raise SystemExit(f"AUDIT_HEKA_COMPILE={mode!r}: the only compiled build is 'mypyc'")
else:
    setup()
