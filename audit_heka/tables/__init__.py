"""Generated data tables (message types, syscalls, errno, ...).

Each module here is written by a script under scripts/ and checked by a test
that regenerates it, so the tables are data, not hand-kept code.
"""

from __future__ import annotations
