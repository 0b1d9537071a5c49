"""The configuration file: ``/etc/audit-heka/audit-heka.toml`` -> validated ``run`` options.

An operator who runs audit-heka from systemd wants the options in a file
that configuration management owns, not in an ``ExecStart=`` line. The file
has exactly the options of ``audit-heka run`` (one source of truth: the
click command's own parameters give the names, types, ranges, choices and
checks), so nothing can be set in one place and not the other, and the
command line wins over the file (the file fills click's ``default_map``).

Names are the long options without ``--``, with dashes or underscores
(``spool-max-bytes`` or ``spool_max_bytes``); a repeatable option takes a
list (``target = ["tls://heka:5565", "log:/var/log/audit/audit.log"]``; a
single string is accepted as a list of one); an on/off pair takes a boolean
(``payload = false``). Everything wrong is reported at once, each error with
its line: ``audit-heka.toml:12: unknown option 'tagret' (did you mean
'target'?)``.

Pure: text and the command's parameters in, values or errors out. Reading
the file is the caller's business.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

DEFAULT_CONFIG_FILE = Path("/etc/audit-heka/audit-heka.toml")

_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_KEY_LINE = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*=""")
_TABLE_LINE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_-]+)\s*\]")


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration file, where it is."""

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """The configuration file is not valid; ``problems`` says every reason."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def option_names(param: click.Parameter) -> set[str]:
    """Every name the file may use for ``param``: long options and the parameter's name."""
    names = set()
    if isinstance(param, click.Option):
        for opt in param.opts:
            if opt.startswith("--"):
                names.add(opt[2:])
    if param.name:
        names.add(param.name)
    return names | {n.replace("-", "_") for n in names} | {n.replace("_", "-") for n in names}


def _key_lines(text: str) -> dict[str, int]:
    """First line of each top-level key or table (tomllib gives no positions)."""
    lines: dict[str, int] = {}
    depth = 0  # inside a multi-line array: its lines are not keys
    for number, line in enumerate(text.splitlines(), start=1):
        if depth == 0:
            match = _KEY_LINE.match(line)
            if match:
                key = next(g for g in match.groups() if g is not None)
                lines.setdefault(key, number)
            elif table := _TABLE_LINE.match(line):
                lines.setdefault(table.group(1), number)
        stripped = re.sub(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|#.*', "", line)
        depth = max(0, depth + stripped.count("[") - stripped.count("]"))
    return lines


def _toml_kind(param: click.Parameter) -> tuple[tuple[type, ...], str]:
    """The TOML value types ``param`` accepts (per element for repeatable options)."""
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        return (bool,), "a boolean (true/false)"
    if isinstance(kind, click.types.BoolParamType):
        return (bool,), "a boolean (true/false)"
    if isinstance(kind, click.types.IntParamType):
        return (int,), "an integer"
    if isinstance(kind, click.types.FloatParamType):
        return (int, float), "a number"
    return (str,), "a string"


def _check_value(
    ctx: click.Context, param: click.Parameter, key: str, value: object
) -> tuple[object, str | None]:
    """(value for click's default_map, error message or None)."""
    accepted, described = _toml_kind(param)
    multiple = bool(getattr(param, "multiple", False))
    items: list[object]
    if multiple:
        items = list(value) if isinstance(value, list) else [value]
    else:
        if isinstance(value, list):
            return value, f"{key}: expected {described}, got a list"
        items = [value]
    for item in items:
        # bool is an int in Python, not in TOML: true is not a port number.
        if (isinstance(item, bool) and bool not in accepted) or not isinstance(item, accepted):
            what = "a list" if isinstance(item, list) else type(item).__name__
            if isinstance(item, dict):
                what = "a table"
            return value, f"{key}: expected {described}, got {what} ({item!r})"
    out: object = items if multiple else items[0]
    try:
        converted = param.type_cast_value(ctx, tuple(items) if multiple else items[0])
        if param.callback is not None:
            param.callback(ctx, param, converted)
    except click.BadParameter as exc:
        return out, f"{key}: {exc.message}"
    return out, None


def parse_config(
    text: str, command: click.Command, source: str = "audit-heka.toml"
) -> dict[str, object]:
    """Validate ``text`` against ``command``'s options: {parameter name: value}.

    The result is meant for click's ``default_map`` (values as the command
    line would give them, lists for repeatable options). Raises
    :class:`ConfigError` with every problem found.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_LINE.search(message)
        line = int(match.group(1)) if match else None
        message = _TOML_LINE.sub("", message).strip()
        raise ConfigError([ConfigProblem(source, line, f"not valid TOML: {message}")]) from None
    by_name: dict[str, click.Parameter] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in (None, "config", "help"):
            for name in option_names(param):
                by_name[name] = param
    lines = _key_lines(text)
    # resilient_parsing: callbacks validate only (no warnings: click runs them again).
    ctx = click.Context(command, resilient_parsing=True)
    problems: list[ConfigProblem] = []
    values: dict[str, object] = {}
    seen: dict[str, str] = {}
    for key, value in document.items():
        line = lines.get(key)
        found = by_name.get(key)
        if found is None or found.name is None:
            if isinstance(value, dict):
                msg = f"unknown section [{key}] (the file has no sections: options go at the top)"
            else:
                msg = f"unknown option {key!r}"
                close = difflib.get_close_matches(key, sorted(by_name), n=1)
                if close:
                    msg += f" (did you mean {close[0]!r}?)"
            problems.append(ConfigProblem(source, line, msg))
            continue
        param = found
        if param.name in seen:
            problems.append(
                ConfigProblem(source, line, f"{key!r} is the same option as {seen[param.name]!r}")
            )
            continue
        seen[param.name] = key
        value_out, error = _check_value(ctx, param, key, value)
        if error is not None:
            problems.append(ConfigProblem(source, line, error))
        else:
            values[param.name] = value_out
    if problems:
        raise ConfigError(problems)
    return values


def read_config(
    path: Path, command: click.Command, *, explicit: bool
) -> dict[str, object]:
    """Read and validate ``path`` (the I/O edge around :func:`parse_config`).

    A missing file is an empty configuration when it is the default one,
    and an error when the operator named it (``--config PATH``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError([ConfigProblem(str(path), None, "no such file")]) from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 ({exc.reason})"
        raise ConfigError([ConfigProblem(str(path), None, f"cannot read: {reason}")]) from None
    return parse_config(text, command, str(path))
