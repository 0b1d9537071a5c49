"""The ``audit-heka`` command line (an I/O edge: sockets, files, signals).

Each sub-command lives in a module of its own in this package and is
registered here, so that the command list reads as a table of contents.

Sub-commands are imported only when invoked: importing all of them (pyroute2
for ``rules``/``status``/``run``, the protobuf bindings, ...) costs about a
third of a second, which dominated short ``replay`` runs.
"""

from __future__ import annotations

import importlib

import click

from audit_heka import __version__

# Sub-commands: name -> module defining a click command of that name (keep sorted).
COMMANDS: dict[str, str] = {
    "decode": "audit_heka.cli.decode",
    "demo": "audit_heka.cli.demo",
    "listen": "audit_heka.cli.listen",
    "replay": "audit_heka.cli.replay",
    "rules": "audit_heka.cli.rules",
    "run": "audit_heka.cli.run",
    "status": "audit_heka.cli.status",
}


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return super().get_command(ctx, cmd_name)
        command = getattr(importlib.import_module(module), cmd_name.replace("-", "_"))
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{cmd_name} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audit-heka")
def main() -> None:
    """Ship Linux kernel audit events to Heka as framed protobuf messages."""
