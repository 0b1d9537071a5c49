"""click commands and options made from the option tables of :mod:`audit_heka.cli.options`.

Why: the table is the one definition of an option; click gives it its help
text, its usage errors and shell completion, the click-free path of
:func:`audit_heka.cli.options.run_fast` its speed. Checks raise ValueError
and warn through a callback; here they become click callbacks raising
``BadParameter`` and echoing to stderr (not during completion).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from audit_heka.cli.options import Command, CommandError, Option, UsageError

if TYPE_CHECKING:
    from audit_heka.cli.options import Check  # a type only (it needs typing)

F = TypeVar("F", bound=Callable[..., object])


def click_callback(check: Check) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback running ``check``."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        def warn(text: str) -> None:
            if not ctx.resilient_parsing:
                click.echo(text, err=True)

        try:
            return check(value, warn)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


def _type(option: Option) -> click.ParamType[Any] | None:
    if option.kind == "int":
        return click.INT
    if option.kind == "choice":
        return click.Choice(option.choices)
    if option.kind == "file":
        return click.Path(exists=True, dir_okay=False)
    return None


def _declaration(option: Option) -> tuple[list[str], dict[str, Any]]:
    """The declarations and settings of the click option ``option`` describes."""
    flag = "/".join(option.flags) if option.kind == "switch" else option.flags[0]
    settings: dict[str, Any] = {"default": option.default, "help": option.help}
    kind = _type(option)
    if kind is not None:
        settings["type"] = kind
    if option.kind == "flag":
        settings["is_flag"] = True
    if option.metavar is not None:
        settings["metavar"] = option.metavar
    if option.multiple:
        settings["multiple"] = True
    if option.show_default:
        settings["show_default"] = True
    if option.check is not None:
        settings["callback"] = click_callback(option.check)
    return [flag, option.dest], settings


def click_param(option: Option) -> click.Parameter:
    """The click option (or argument) ``option`` describes."""
    if option.kind == "arguments":
        return click.Argument([option.dest], nargs=-1, required=True)
    decls, settings = _declaration(option)
    return click.Option(decls, **settings)


def with_options(options: Sequence[Option]) -> Callable[[F], F]:
    """A decorator adding ``options`` to a click command, in their order."""

    def decorate(f: F) -> F:
        for option in reversed(options):
            decls, settings = _declaration(option)
            f = click.option(*decls, **settings)(f)
        return f

    return decorate


def click_command(command: Command) -> click.Command:
    """The click command of ``command``: the same options, checks, errors and help."""

    def callback(**values: Any) -> None:
        try:
            work = command.prepare(**values)
        except UsageError as exc:
            raise click.BadParameter(exc.message, param_hint=exc.param_hint) from None
        try:
            work()
        except CommandError as exc:
            raise click.ClickException(exc.message) from None

    return click.Command(command.name, callback=callback,
                         params=[click_param(o) for o in command.options],
                         help=command.prepare.__doc__)
