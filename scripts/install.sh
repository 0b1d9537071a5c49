#!/usr/bin/env bash
# Install audit-heka as a service (Debian 12, as root), from a clone of this repository.
#
#   /opt/audit-heka/                 a virtualenv holding audit-heka and its dependencies
#                                    (Debian's python refuses system-wide pip installs, PEP 668)
#   /usr/local/bin/audit-heka        -> ../../../opt/audit-heka/bin/audit-heka (the unit's ExecStart)
#   /etc/systemd/system/audit-heka.service
#   /etc/audit-heka/audit-heka.toml  (0600, kept if it exists: it may hold an HMAC key)
#
# State directories are systemd's (StateDirectory=, RuntimeDirectory=, LogsDirectory=):
# /var/lib/audit-heka, /run/audit-heka (status files), /var/log/audit-heka, created 0700
# at each start. Nothing is enabled or started: auditd must be stopped first (the unit
# conflicts with it), then `systemctl enable --now audit-heka`.
#
# Usage: scripts/install.sh [--root DIR] [--python PYTHON]
#   --root DIR     install under DIR instead of / (staging, tests); the symlink is
#                  relative so the tree stays consistent under DIR
#   --python PY    the interpreter the virtualenv is made from (default /usr/bin/python3)
# Safe to run again: it upgrades the virtualenv and replaces the unit.
set -euo pipefail
cd "$(dirname "$0")/.."

root=""
python=/usr/bin/python3
while (($#)); do
    case "$1" in
        --root) root="${2%/}"; shift 2 ;;
        --python) python="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

venv="$root/opt/audit-heka"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade .
install -d -m 0755 "$root/usr/local/bin"
ln -sfn ../../../opt/audit-heka/bin/audit-heka "$root/usr/local/bin/audit-heka"
install -D -m 0644 packaging/audit-heka.service "$root/etc/systemd/system/audit-heka.service"
install -d -m 0755 "$root/etc/audit-heka"
if [ ! -e "$root/etc/audit-heka/audit-heka.toml" ]; then
    install -m 0600 packaging/audit-heka.toml "$root/etc/audit-heka/audit-heka.toml"
fi
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
echo "installed: $root/usr/local/bin/audit-heka ($("$root/usr/local/bin/audit-heka" --version))"
echo "next: edit $root/etc/audit-heka/audit-heka.toml, then systemctl enable --now audit-heka"
