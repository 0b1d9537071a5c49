"""Small immutable values without dataclasses: equality, hash, repr and replace.

Why not ``@dataclass(frozen=True, slots=True)``: ``replay`` of a short log is
nearly all start-up, and ``import dataclasses`` (it imports inspect, ast, dis
and tokenize) cost ~10 ms of CPU on the reference machine against ~9 ms for a
bare interpreter start; each dataclass then took ~0.4 ms more to create
(bench/RESULTS.md, "Start-up"). A subclass of :class:`Value` is one explicit
class: its ``__slots__``, an ``__init__`` that assigns its attributes
(annotated ``Final``: mypy refuses any later assignment, as the frozen
dataclass refused it at run time, and the compiled build makes them
read-only) and ``_as_dict``, its attributes by ``__init__``'s keywords in
order. From that this base gives what the dataclasses gave: ``==`` between
values of the same class, a hash (values can be dict keys and set members),
``Name(a=1, b='x')`` as repr and :meth:`Value.replace`.

The compiled build compiles this module with the per-event ones (setup.py):
a compiled class whose base is an interpreted class broke the garbage
collector (a segfault under hypothesis), and interpreted subclasses (the
outputs' and the command line's values) are allowed explicitly.
"""

from __future__ import annotations

from audit_heka.mypyc_hints import mypyc_attr

#: typing.TYPE_CHECKING without importing typing (replay's start-up); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Self


@mypyc_attr(allow_interpreted_subclasses=True)
class Value:
    """Base of the value classes (see the module docstring)."""

    __slots__ = ()

    def _as_dict(self) -> dict[str, Any]:
        """The attributes by ``__init__``'s keywords, in its order (each subclass says)."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__ or not isinstance(other, Value):
            return NotImplemented
        return self._as_dict() == other._as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self._as_dict().values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self._as_dict().items())
        return f"{self.__class__.__qualname__}({inner})"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (keywords of ``__init__``), as dataclasses.replace made."""
        make: Callable[..., Self] = self.__class__
        return make(**(self._as_dict() | changes))
