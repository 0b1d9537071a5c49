#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine, as root: installs what
# it needs, lints, type-checks, then runs every test, the live-kernel ones
# included. Kernel, protoc, auditctl/ausearch and Lua tests fail rather than
# skip (AUDIT_HEKA_REQUIRE_KERNEL=1), so a green run means they ran.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export AUDIT_HEKA_REQUIRE_KERNEL="${AUDIT_HEKA_REQUIRE_KERNEL:-1}"
.venv/bin/ruff check .
.venv/bin/mypy --strict audit_heka scripts tests
set +e
.venv/bin/python -m pytest -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
