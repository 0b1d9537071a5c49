#!/usr/bin/env bash
# The main job, end to end, on a fresh Debian 12 machine as root: installs what
# it needs, then `audit-heka demo` starts a receiver (`listen`) on loopback,
# runs the daemon against the live kernel with a small rule set, runs a few
# commands, prints the decoded events as they arrive, and restores the kernel's
# audit state on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/audit-heka demo "$@"
