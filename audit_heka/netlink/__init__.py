"""The kernel side of audit-heka (an I/O edge, plus the sans-IO codecs it uses).

- uapi.py: the kernel's numbers (include/uapi/linux/audit.h).
- status.py: struct audit_status / audit_features / audit_sig_info (sans-IO).
- rules.py: auditctl syntax <-> struct audit_rule_data, `auditctl -l` text (sans-IO).
- rulefile.py: rule files and rules.d directories in augenrules order.
- control.py: the pyroute2 control socket (status, rules, features).
- source.py: registration and the raw record receive path.
"""

from __future__ import annotations
