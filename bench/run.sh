#!/usr/bin/env bash
# One command for every benchmark of issue 7: builds the storm program, captures
# the logs from the live kernel, runs the offline, live and memory comparisons and
# writes bench/RESULTS.md.  Arguments go to bench.py, e.g.
#   bash bench/run.sh                  # everything (about 20 minutes: memory run is 10)
#   bash bench/run.sh offline --runs 3
#   bash bench/run.sh live --seconds 10
#   bash bench/run.sh memory --minutes 10
# Needs root (the kernel's audit subsystem), gcc, auditd's tools (auditctl,
# ausearch, auditd) and the project's virtualenv (scripts/test.sh or
# scripts/bootstrap.sh creates it).  bench.py takes the same machine-wide lock
# as the kernel tests (/run/audit-heka-test.lock) around everything that touches
# the audit state, and restores that state afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "bench/run.sh: run as root (the benchmarks use the kernel's audit subsystem)" >&2
    exit 1
fi
need_bootstrap=0
for tool in gcc auditctl ausearch auditd; do
    command -v "$tool" >/dev/null || need_bootstrap=1
done
[ -x .venv/bin/python ] || need_bootstrap=1
if [ "$need_bootstrap" = 1 ]; then
    bash scripts/bootstrap.sh   # Debian packages (never starts the auditd service) + .venv
fi
if [ $# -eq 0 ]; then
    set -- all
fi
exec .venv/bin/python bench/bench.py "$@"
