"""A command's options as data, and the click-free path that runs it.

Why: ``import click`` alone costs more than three bare interpreter starts,
and a short ``replay`` (a cron job, a rotation hook, a test) is nearly all
start-up. So ``replay``'s options are a table of :class:`Option` values:
:mod:`audit_heka.cli.click_build` makes the click command of ``audit-heka
--help`` and of the other commands from the same table, and
:func:`run_fast` parses an ordinary command line without click. There is one
definition of each option; the two parsers cannot drift.

:func:`run_fast` takes only the plain road: every option known, every value
well-formed, every check passed, the command's own checks (its ``prepare``)
passed. Anything else -- ``--help``, an unknown or misspelt option, a bad
value, a missing FILES -- is handed, untouched, to click, which prints the
usage error or the help exactly as it always has. Nothing has been done by
then: reading option files and checking values have no effect beyond a
warning, and warnings are held back until the command is ready to run.
"""

from __future__ import annotations

import os
import stat
import sys

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Final, Literal

    #: How an option takes its value: a string, an integer, one of ``choices``,
    #: the path of an existing readable file (not a directory), a ``--x`` flag,
    #: an ``--x/--no-x`` switch, or the command's positional arguments (one or more).
    Kind = Literal["text", "int", "choice", "file", "flag", "switch", "arguments"]

    #: Where a check reports something worth saying that is not an error.
    Warn = Callable[[str], None]

    #: A check of an option's (converted) value: returns the value the command
    #: gets, raises ValueError with a message for the user.
    Check = Callable[[Any, Warn], Any]


class Option:
    """One option of a command (or its positional arguments), as data.

    A plain class, not a NamedTuple: typing costs replay's start-up ~4.5 ms
    (bench/RESULTS.md, "Start-up").
    """

    __slots__ = ("check", "choices", "default", "dest", "flags", "help", "kind", "metavar",
                 "multiple", "show_default")

    def __init__(self, flags: tuple[str, ...], dest: str, kind: Kind = "text",
                 default: Any = None, help: str | None = None, metavar: str | None = None,
                 choices: tuple[str, ...] = (), multiple: bool = False,
                 show_default: bool = False, check: Check | None = None) -> None:
        #: ``("--target",)``; a switch names its on and off flags,
        #: ``("--payload", "--no-payload")``; positional arguments have none.
        self.flags: Final = flags
        #: The keyword the command's ``prepare`` receives the value as.
        self.dest: Final = dest
        self.kind: Final = kind
        self.default: Final = default
        self.help: Final = help
        self.metavar: Final = metavar
        self.choices: Final = choices
        self.multiple: Final = multiple
        self.show_default: Final = show_default
        self.check: Final = check


class Command:
    """A command whose options are a table."""

    __slots__ = ("name", "options", "prepare")

    def __init__(self, name: str, options: tuple[Option, ...],
                 prepare: Callable[..., Callable[[], None]]) -> None:
        self.name: Final = name
        self.options: Final = options
        #: Takes every option as a keyword, does the checks that involve several
        #: options (raising :class:`UsageError`) and nothing else, and returns the
        #: work to do. Its docstring is the command's help.
        self.prepare: Final = prepare


class UsageError(Exception):
    """A command line that cannot run, found before anything was done."""

    def __init__(self, message: str, param_hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param_hint = param_hint


class CommandError(Exception):
    """The command could not do its work (``Error: ...``, exit status 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _existing_file(text: str) -> bool:
    """What click.Path(exists=True, dir_okay=False) accepts (readable, not a directory)."""
    try:
        st = os.stat(text)  # noqa: PTH116 - pathlib is start-up cost replay avoids
    except (OSError, ValueError):
        return False
    return not stat.S_ISDIR(st.st_mode) and os.access(text, os.R_OK)


def _convert(option: Option, text: str) -> Any:
    """The value of one occurrence; raises ValueError where click would refuse it."""
    if option.kind == "int":
        return int(text)
    if option.kind == "choice" and text not in option.choices:
        raise ValueError(text)
    if option.kind == "file" and not _existing_file(text):
        raise ValueError(text)
    return text


def parse(options: Sequence[Option], args: Sequence[str]) -> dict[str, Any] | None:
    """Each option's value from ``args`` as click would give it, or None to let click say why not.

    The grammar is click's for these kinds: ``--name value`` or
    ``--name=value``, options and arguments in any order, ``--`` ends the
    options, ``-`` is an argument, the last of a repeated option wins.
    """
    by_flag: dict[str, tuple[Option, bool]] = {}
    for option in options:
        for index, flag in enumerate(option.flags):
            by_flag[flag] = (option, index == 0)
    given: dict[str, list[str | bool]] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional += args[i:]
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, eq, inline = arg.partition("=")
        found = by_flag.get(name)
        if found is None:
            return None  # --help, -h, a typo: click's to handle
        option, on = found
        value: str | bool
        if option.kind in ("flag", "switch"):
            if eq:
                return None  # "does not take a value"
            value = on
        elif eq:
            value = inline
        elif i < len(args):
            value = args[i]
            i += 1
        else:
            return None  # "requires an argument"
        given.setdefault(option.dest, []).append(value)
    values: dict[str, Any] = {}
    for option in options:
        if option.kind == "arguments":
            if not positional:
                return None  # "Missing argument"
            values[option.dest] = tuple(positional)
            positional = []
        elif option.dest in given:
            # As click: every value of a repeatable option, else only the last one given.
            got = given[option.dest] if option.multiple else given[option.dest][-1:]
            try:
                converted = [v if isinstance(v, bool) else _convert(option, v) for v in got]
            except ValueError:
                return None
            values[option.dest] = tuple(converted) if option.multiple else converted[0]
        elif option.multiple:
            values[option.dest] = tuple(option.default or ())
        elif option.kind == "flag":
            values[option.dest] = bool(option.default)
        else:
            values[option.dest] = option.default
    return None if positional else values  # "Got unexpected extra arguments"


def checked(options: Sequence[Option], values: dict[str, Any],
            warn: Warn) -> dict[str, Any] | None:
    """``values`` after every option's check, or None if one refused its value."""
    out = dict(values)
    for option in options:
        if option.check is not None:
            try:
                out[option.dest] = option.check(values[option.dest], warn)
            except ValueError:
                return None
    return out


def run_fast(command: Command, args: Sequence[str], fallback: Callable[[], None]) -> None:
    """Run ``command`` on ``args`` without click, or call ``fallback`` (click) for anything else.

    Errors while running are reported as click reports them (``Error:``,
    status 1); Ctrl-C before the command takes over SIGINT prints
    ``Aborted!`` with status 1, as click does.
    """
    warnings: list[str] = []
    try:
        values = parse(command.options, args)
        if values is not None:
            values = checked(command.options, values, warnings.append)
        if values is None:
            fallback()
            return
        try:
            work = command.prepare(**values)
        except UsageError:
            fallback()  # click runs the same checks and words the error
            return
        for text in warnings:
            print(text, file=sys.stderr)
        try:
            work()
        except CommandError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            sys.exit(1)
    except KeyboardInterrupt:
        print("\nAborted!", file=sys.stderr)
        sys.exit(1)
