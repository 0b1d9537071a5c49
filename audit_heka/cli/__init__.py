"""The ``audit-heka`` command line (an I/O edge: sockets, files, signals).

Each sub-command lives in a module of its own in this package and is
registered here, so that the command list reads as a table of contents.
"""

from __future__ import annotations

import click

from audit_heka import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="audit-heka")
def main() -> None:
    """Ship Linux kernel audit events to Heka as framed protobuf messages."""


# Sub-commands: one module each, registered below (keep this list sorted).
from audit_heka.cli.decode import decode  # noqa: E402
from audit_heka.cli.demo import demo  # noqa: E402
from audit_heka.cli.listen import listen  # noqa: E402
from audit_heka.cli.replay import replay  # noqa: E402
from audit_heka.cli.rules import rules  # noqa: E402
from audit_heka.cli.run import run  # noqa: E402
from audit_heka.cli.status import status  # noqa: E402

for command in (decode, demo, listen, replay, rules, run, status):
    main.add_command(command)
