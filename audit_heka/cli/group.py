"""The click group ``audit-heka``: its help, ``--version``, and every sub-command.

Sub-commands are imported only when invoked: importing all of them (pyroute2
for ``rules``/``status``/``run``, the protobuf bindings, ...) costs about a
third of a second, which dominated short ``replay`` runs. A command whose
options are a table (:class:`audit_heka.cli.options.Command`, ``replay``) gets
its click command built here from that table.
"""

from __future__ import annotations

import importlib

import click

from audit_heka import __version__
from audit_heka.cli import COMMANDS
from audit_heka.cli.click_build import click_command
from audit_heka.cli.options import Command


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return super().get_command(ctx, cmd_name)
        module = importlib.import_module(module_name)
        table = getattr(module, "COMMAND", None)
        if isinstance(table, Command):
            return click_command(table)
        command = getattr(module, cmd_name.replace("-", "_"))
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{cmd_name} is not a click command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audit-heka")
def main() -> None:
    """Ship Linux kernel audit events to Heka as framed protobuf messages."""
