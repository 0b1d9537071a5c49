"""The structural types of the per-event path, for the type checker only.

Why a module of their own: a ``typing.Protocol`` needs typing at run time,
and ``replay`` imports no typing (start-up: ~4.5 ms of CPU against a ~9 ms
interpreter start, bench/RESULTS.md "Start-up"). mypyc compiles no class
inside ``if TYPE_CHECKING:``, so the compiled modules that name these types
(interpret, schema) import them from here under ``TYPE_CHECKING`` and never
load this module at run time.
"""

from __future__ import annotations

from typing import Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from audit_heka.core.records import Record


class RecordLike(Protocol):
    """What the interpreter (audit_heka.core.interpret) reads of audit_heka.core.records.Record."""

    @property
    def type(self) -> int: ...
    @property
    def type_name(self) -> str: ...
    @property
    def fields(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def enriched(self) -> tuple[tuple[str, str], ...]: ...


class InterpreterLike(Protocol):
    """What audit_heka.core.schema needs of audit_heka.core.interpret.Interpreter."""

    def interpret_checked(self, records: Sequence[Record]
                          ) -> tuple[list[dict[str, str | list[str]]], list[str]]: ...

    def argv(self, records: Sequence[Record]) -> list[str]: ...
