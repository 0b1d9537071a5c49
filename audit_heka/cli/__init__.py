"""The ``audit-heka`` command line (an I/O edge: sockets, files, signals).

Each sub-command lives in a module of its own in this package and is
registered here, so that the command list reads as a table of contents.

``audit-heka replay`` starts without click: importing click costs more than
three bare interpreter starts, and a short replay is nearly all start-up. Its
options are a table (:mod:`audit_heka.cli.options`) from which both its
click command and a click-free parser are made; :func:`entry`, the console
script, takes the click-free road for it and hands everything else (other
commands, ``--help``, usage errors) to the click group :data:`main`
(:mod:`audit_heka.cli.group`), which is imported only then.
"""

from __future__ import annotations

import sys

#: typing.TYPE_CHECKING without importing typing: ``replay`` imports neither
#: typing nor dataclasses (start-up, bench/RESULTS.md); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from audit_heka.cli.group import main as main

# Sub-commands: name -> module defining a click command of that name, or a
# COMMAND table (audit_heka.cli.options.Command) (keep sorted).
COMMANDS: dict[str, str] = {
    "decode": "audit_heka.cli.decode",
    "demo": "audit_heka.cli.demo",
    "listen": "audit_heka.cli.listen",
    "replay": "audit_heka.cli.replay",
    "rules": "audit_heka.cli.rules",
    "run": "audit_heka.cli.run",
    "status": "audit_heka.cli.status",
}

#: Commands run without click when their command line is a plain one.
CLICK_FREE = frozenset({"replay"})


def __getattr__(name: str) -> Any:
    """``main``, the click group, imported on first use (it imports click)."""
    if name == "main":
        from audit_heka.cli.group import main  # noqa: PLC0415 - see the module docstring

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def entry() -> None:
    """The ``audit-heka`` console script."""
    args = sys.argv[1:]
    if args and args[0] in CLICK_FREE:
        from audit_heka.cli.options import Command, run_fast  # noqa: PLC0415 - see above

        __import__(COMMANDS[args[0]])  # not importlib: ~0.5 ms more of start-up
        command = getattr(sys.modules[COMMANDS[args[0]]], "COMMAND", None)
        if isinstance(command, Command):
            run_fast(command, args[1:], _click)
            return
    _click()


def _click() -> None:
    from audit_heka.cli.group import main  # noqa: PLC0415 - see the module docstring

    main()
