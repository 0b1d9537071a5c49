"""``python -m audit_heka`` runs the command line."""

from __future__ import annotations

from audit_heka.cli import entry

entry()
