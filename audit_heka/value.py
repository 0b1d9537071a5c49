"""Small immutable values without dataclasses: equality, hash and repr from a list of names.

Why not ``@dataclass(frozen=True, slots=True)``: ``replay`` of a short log is
nearly all start-up, and ``import dataclasses`` (which imports inspect, ast,
dis and tokenize) cost ~10 ms of CPU on the reference machine, against ~9 ms
for a bare interpreter start; each dataclass then took ~0.4 ms more to
create (bench/RESULTS.md, "Start-up"). A subclass of :class:`Value` is one
explicit class: its ``__slots__``, an ``__init__`` that assigns its
attributes (annotated ``Final``, so that mypy refuses any later assignment,
as a frozen dataclass refused it at run time; the compiled build makes them
read-only too), and ``__match_args__``, the names that make the value, in
order. From those this base gives what the dataclasses gave: ``==`` between
values of the same class, a hash over the same names (values can be dict
keys and set members), ``Name(a=1, b='x')`` as repr and ``replace``.

This module stays interpreted in the compiled build (setup.py): compiled
classes can derive from an interpreted one, while interpreted classes (the
outputs' values) cannot derive from a compiled one.
"""

from __future__ import annotations

#: typing.TYPE_CHECKING without importing typing (start-up, above); mypy knows the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import ClassVar, Self


class Value:
    """Base of the value classes (see the module docstring)."""

    __slots__ = ()
    #: The attribute names that make the value, in ``__init__``'s order.
    __match_args__: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def replace(self, **changes: object) -> Self:
        """A copy with ``changes`` (names as ``__init__`` takes them): dataclasses.replace."""
        values = {name: getattr(self, name) for name in self.__match_args__}
        values.update(changes)
        make: Callable[..., Self] = self.__class__
        return make(**values)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__ or not isinstance(other, Value):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{self.__class__.__qualname__}({inner})"
