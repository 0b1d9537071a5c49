#!/usr/bin/env bash
# Every benchmark of audit-heka, one command (see bench/README.md). Each section
# writes only its own part of bench/RESULTS.md, between its markers
# (bench/results.py), so sections can be rerun one at a time.
#   bash bench/run.sh                       # all: every section below in turn (~1 hour)
#   bash bench/run.sh offline --runs 5      # replay vs ausearch -i          (bench.py)
#   bash bench/run.sh memory --minutes 10   # RSS of run's processes, dead receiver (bench.py)
#   bash bench/run.sh storm --rounds 2      # live storm vs auditd -n         (journal_bench.py)
#   bash bench/run.sh bound                 # journal bound, block/drop-oldest (journal_bench.py)
#   bash bench/run.sh exec --rounds 3       # CPU per exec event vs auditd -n (exec_bench.py)
#   bash bench/run.sh exec --distinct-args  # the same, a new argument list each exec
#   bash bench/run.sh hostile --rounds 3    # exec events made large on purpose (hostile_exec.py)
#   bash bench/run.sh startup --runs 20     # replay start-up vs python3 -c pass (startup.py)
#   bash bench/run.sh hotpath               # per-event CPU in process, pure (+ compiled) (hotpath.py)
#   bash bench/run.sh report                # rewrite the sections from bench/work/*.json
# Arguments after the section go to its script. Needs root (the kernel's audit
# subsystem), gcc, auditd's tools (auditctl, ausearch, auditd) and the project's
# virtualenv (scripts/bootstrap.sh makes them; run here if something is missing).
# Everything that touches the audit state takes the tests' machine-wide lock
# (/run/audit-heka-test.lock, bench.kernel()) and restores that state afterwards;
# never wrap this in an outer flock on that lock: it would deadlock.
set -euo pipefail
cd "$(dirname "$0")/.."
section=${1:-all}
if [ $# -gt 0 ]; then shift; fi
py=.venv/bin/python

if [ "$(id -u)" != 0 ] && [ "$section" != report ]; then
    echo "bench/run.sh: run as root (the benchmarks use the kernel's audit subsystem)" >&2
    exit 1
fi
need_bootstrap=0
for tool in gcc auditctl ausearch auditd; do
    command -v "$tool" >/dev/null || need_bootstrap=1
done
[ -x "$py" ] || need_bootstrap=1
if [ "$need_bootstrap" = 1 ]; then
    bash scripts/bootstrap.sh   # Debian packages (never starts the auditd service) + .venv
fi

# The hot path is timed on the 250k-record storm log and on 5,000 exec events
# repeated from a real one of the 10k log (bench/exec_log.py).
hotpath() {
    "$py" bench/bench.py capture
    [ -f bench/work/exec-5k.log ] ||
        "$py" bench/exec_log.py bench/work/log-10k/audit.log bench/work/exec-5k.log --events 5000
    local logs=(bench/work/log-250k/audit.log bench/work/exec-5k.log)
    "$py" bench/hotpath.py "${logs[@]}" --write-results "$@"
    if [ -x .venv-compiled/bin/python ]; then   # scripts/test.sh builds it
        .venv-compiled/bin/python -P bench/hotpath.py "${logs[@]}" --installed --write-results "$@"
    fi
}

case "$section" in
    offline | memory) "$py" bench/bench.py "$section" "$@" ;;
    storm | bound) "$py" bench/journal_bench.py "$section" "$@" ;;
    exec) "$py" bench/exec_bench.py run "$@" ;;
    hostile) "$py" bench/hostile_exec.py run "$@" ;;
    startup) "$py" bench/startup.py --write-results "$@" ;;
    hotpath) hotpath "$@" ;;
    report)
        "$py" bench/bench.py report
        "$py" bench/journal_bench.py report
        if [ -f bench/work/exec-rate.json ]; then "$py" bench/exec_bench.py report; fi
        if [ -f bench/work/exec-rate-distinct.json ]; then
            "$py" bench/exec_bench.py report --distinct-args
        fi
        if [ -f bench/work/hostile-exec.json ]; then "$py" bench/hostile_exec.py report; fi
        ;;
    all)
        if [ $# -gt 0 ]; then
            echo "bench/run.sh all takes no arguments (give them to one section)" >&2
            exit 2
        fi
        for one in offline memory storm bound exec startup hotpath hostile; do
            echo "== bench/run.sh $one" >&2
            bash "$0" "$one"
        done
        ;;
    *)
        echo "bench/run.sh: unknown section $section" \
            "(all offline memory storm bound exec startup hotpath hostile report)" >&2
        exit 2
        ;;
esac
