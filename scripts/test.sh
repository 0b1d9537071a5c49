#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root: installs what
# it needs, lints, type-checks, then runs every test, the live-kernel ones
# included. Kernel, protoc, auditctl/ausearch and Lua tests fail rather than
# skip (AUDIT_HEKA_REQUIRE_KERNEL=1), so a green run means they ran.
#
# Both builds: the optional mypyc-compiled package (setup.py) is built into a
# second venv, .venv-compiled. The suite's identity tests (tests/build_identity.py)
# replay the tests/data and live-kernel corpora through both and compare the
# frames byte for byte; then the core unit tests run again against the
# compiled modules (not the whole suite twice: the I/O edges are not compiled).
# Tests that subclass or monkeypatch the hot classes to inject failures
# (test_interpret_errors, test_session) stay pure-only: compiled classes
# cannot be subclassed from interpreted code.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ ! -x .venv-compiled/bin/python ]; then
    /usr/bin/python3 -m venv .venv-compiled
fi
.venv-compiled/bin/pip install -q --disable-pip-version-check '.[test]'
AUDIT_HEKA_COMPILE=mypyc .venv-compiled/bin/pip install -q --disable-pip-version-check \
    --no-deps --force-reinstall .
export AUDIT_HEKA_REQUIRE_KERNEL="${AUDIT_HEKA_REQUIRE_KERNEL:-1}"
export AUDIT_HEKA_REQUIRE_BUILDS=1
.venv/bin/ruff check .
.venv/bin/mypy --strict audit_heka scripts tests
set +e
AUDIT_HEKA_OTHER_PYTHON=.venv-compiled/bin/python .venv/bin/python -m pytest -p no:cacheprovider "$@"
status=$?
# -P: the compiled modules installed in .venv-compiled, not the source tree's.
AUDIT_HEKA_OTHER_PYTHON=.venv/bin/python .venv-compiled/bin/python -P -m pytest \
    -p no:cacheprovider -q tests/test_build_identity.py tests/test_records.py \
    tests/test_events.py tests/test_interpret.py tests/test_schema.py \
    tests/test_heka_message.py tests/test_heka_framing.py tests/test_fuzz.py \
    tests/test_fuzz_targets.py tests/test_foreign_logs.py tests/test_hotpath.py
compiled_status=$?
set -e
if [ "$status" = 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
if [ "$compiled_status" != 0 ]; then
    echo "the compiled build's tests failed" >&2
    exit "$compiled_status"
fi
exit "$status"
