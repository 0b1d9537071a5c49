"""Coverage-guided fuzz targets (atheris) for every parser of audit-heka.

Why a top-level package and not tests: each target is a program meant to run
for hours under libFuzzer (``python -m fuzz.fuzz_records CORPUS``), yet its
one-input function must also run in the test suite over the checked-in corpus
in tests/data/fuzz/<target>/ (tests/test_fuzz_targets.py), so that every input
that ever crashed keeps being replayed. docs/fuzzing.md says how to run them.
"""

from __future__ import annotations
