"""audit_heka.value: the values that replaced dataclasses behave as the dataclasses did.

Why: each value class lists its attributes twice (``__init__`` and
``_as_dict``); one forgotten in ``_as_dict`` would silently drop out of
``==``, the hash, the repr and ``replace``. The contract test builds every
subclass with a distinct marker per ``__init__`` keyword and checks that
``_as_dict`` gives each back, under its keyword, in ``__init__``'s order.
"""

from __future__ import annotations

import inspect

import pytest

from audit_heka.core import degrade, events, records
from audit_heka.heka import framing, message
from audit_heka.outputs import file, target, transport
from audit_heka.value import Value

#: Every value class (imported above, so that all subclasses are loaded).
CLASSES = sorted(Value.__subclasses__(), key=lambda c: f"{c.__module__}.{c.__qualname__}")
EXPECTED = {records.Record, records.ParseError, events.Event, message.Field, message.Message,
            framing.Signer, framing.Unframed, degrade.Cut, degrade.Degraded, target.TlsOptions,
            target.Target, file.FsyncPolicy, transport.TransportOptions}


def _markers(cls: type) -> dict[str, object]:
    params = list(inspect.signature(cls).parameters)
    return {name: f"<{name}>" for name in params}


def test_every_value_class_is_checked() -> None:
    assert set(CLASSES) >= EXPECTED


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_as_dict_gives_back_every_init_keyword_in_order(cls: type[Value]) -> None:
    if not hasattr(cls, "__slots__") or not inspect.isfunction(cls.__init__):
        pytest.skip("compiled: no signature to read")
    markers = _markers(cls)
    value = cls(**markers)
    assert value._as_dict() == markers
    assert list(value._as_dict()) == list(markers)
    assert set(cls.__slots__) == set(markers)  # no attribute outside the value


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__qualname__)
def test_equality_hash_repr_and_replace(cls: type[Value]) -> None:
    if not inspect.isfunction(cls.__init__):
        pytest.skip("compiled: no signature to read")
    markers = _markers(cls)
    a, b = cls(**markers), cls(**markers)
    first = next(iter(markers))
    other = a.replace(**{first: "<changed>"})
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != other and other._as_dict() == {**markers, first: "<changed>"}
    assert a._as_dict() == markers  # replace made a copy
    inner = ", ".join(f"{k}={v!r}" for k, v in markers.items())
    assert repr(a) == f"{cls.__qualname__}({inner})"
    with pytest.raises(TypeError):
        a.replace(no_such_attribute=1)


def test_values_of_different_classes_are_not_equal() -> None:
    assert target.TlsOptions() != file.FsyncPolicy()
    assert records.ParseError("r", "t") != framing.Unframed(b"r")
    assert records.ParseError("r", "t") != ("r", "t")  # not a tuple, unlike a NamedTuple


def test_a_record_is_as_its_dataclass_was() -> None:
    record = records.parse_line('type=CWD msg=audit(1700000000.042:777): cwd="/root"')
    assert isinstance(record, records.Record)
    assert repr(record).startswith("Record(type=1307, type_name='CWD', seconds=1700000000, ")
    assert record.replace(text="x").text == "x" and record.text != "x"
    assert record == records.parse_line('type=CWD msg=audit(1700000000.042:777): cwd="/root"')
