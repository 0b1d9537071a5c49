"""Health reports as Heka messages."""

from __future__ import annotations

import logging

import pytest

from audit_heka.daemon import Daemon, RunConfig
from audit_heka.delivery import DeliveryConfig
from audit_heka.health import HEALTH_TYPE, LOSS_COUNTERS, health_message
from audit_heka.heka.message import Message, ValueType, decode_message, encode_message


def test_health_message_carries_every_counter_typed() -> None:
    msg = health_message(
        {"events": 10, "kernel_lost": 0},
        timestamp_ns=5,
        uuid=bytes(16),
        hostname="h",
        pid=1,
    )
    back = decode_message(encode_message(msg))
    assert back.type == HEALTH_TYPE
    assert back.severity == 6
    events = back.field("events")
    assert events is not None
    assert events.value_type is ValueType.INTEGER
    assert events.values == (10,)
    report = back.field("report")
    assert report is not None
    assert report.values == ("periodic",)


def _report(
    now: dict[str, int], before: dict[str, int] | None = None, final: bool = False
) -> Message:
    return health_message(
        now, timestamp_ns=1, uuid=bytes(16), hostname="h", pid=1, previous=before, final=final
    )


def test_growing_loss_raises_severity() -> None:
    assert _report({"kernel_lost": 3}, {"kernel_lost": 3}).severity == 6
    assert _report({"kernel_lost": 4}, {"kernel_lost": 3}).severity == 4
    assert _report({"events": 9}, {"events": 3}).severity == 6
    final = _report({"delivery_spool_drops_oldest": 1}, final=True)
    assert final.severity == 4
    assert final.field("report") is not None


def test_loss_counters_are_counters_the_daemon_reports() -> None:
    """A loss counter misnamed here would never raise the severity."""
    daemon = Daemon(RunConfig(targets=(), delivery=DeliveryConfig()))
    assert set(LOSS_COUNTERS) <= set(daemon.counters())


def test_growing_losses_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    daemon = Daemon(RunConfig(targets=(), delivery=DeliveryConfig()))
    daemon.pipeline.assembler.serial_gaps = 5
    with caplog.at_level(logging.WARNING, logger="audit_heka.daemon"):
        daemon._log_losses()
        daemon._log_losses()  # nothing new: nothing logged
    assert [r.getMessage() for r in caplog.records] == [
        "serial_gaps +5 (total 5): audit events may be missing"
    ]
