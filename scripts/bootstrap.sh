#!/usr/bin/env bash
# Install everything audit-heka needs on Debian 12, as root. Safe to run twice.
#
# System packages: python3-venv (the venv), auditd (for its tools only:
# auditctl, ausearch, ausyscall, and `auditd -n` as a benchmark baseline),
# protobuf-compiler (protoc, the independent decoder for wire tests),
# python3-audit (auparse, the interpretation oracle), lua5.1 + lua-lpeg +
# lua-cjson (to run the Heka sandbox decoder), openssl (test CA for TLS),
# gcc (the benchmark's syscall storm), python3-dev + gcc (the optional
# mypyc-compiled build that scripts/test.sh also tests), systemd
# (systemd-analyze verify of packaging/audit-heka.service), valgrind
# (bench/hotpath_compare.py --instructions: callgrind's instruction counts).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(python3-venv python3-pip auditd protobuf-compiler python3-audit
          lua5.1 lua-lpeg lua-cjson openssl gcc libc6-dev python3-dev procps systemd
          valgrind)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Installing auditd must not start the auditd *service*: it would take the
    # audit pid that audit-heka (and its tests) need. policy-rc.d exit 101 tells
    # invoke-rc.d / deb-systemd-invoke not to start services during this install.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get install -y -qq "${missing[@]}" >/dev/null
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
if command -v systemctl >/dev/null && systemctl is-enabled auditd >/dev/null 2>&1; then
    # The package enables the unit for the next boot; we are its replacement.
    systemctl disable auditd >/dev/null 2>&1 || true
fi

if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
