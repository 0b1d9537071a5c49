"""Health reports as Heka messages."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from audit_heka.core.counters import (
    COUNTERS,
    READER_STATUS_NAME,
    SUPERVISOR_STATUS_NAME,
    UPSTREAM_COUNTERS,
)
from audit_heka.core.health import HEALTH_TYPE, LOSS_COUNTERS, health_message
from audit_heka.heka.framing import Unframer
from audit_heka.heka.message import Message, ValueType, decode_message, encode_message
from audit_heka.shipper import Shipper, ShipperConfig


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
    final = _report({"delivery_oversize": 1}, final=True)
    assert final.severity == 4
    assert final.field("report") is not None


def test_loss_counters_are_counters_the_shipper_reports(tmp_path: Path) -> None:
    """A loss counter misnamed here would never raise the severity. The reader's
    and the kernel's (and the supervisor's rules_refused) are merged in by the
    supervisor; the rest are the shipper's."""
    shipper = Shipper(ShipperConfig(journal_dir=tmp_path, state_dir=tmp_path))
    own = {n for n in LOSS_COUNTERS
           if COUNTERS[n].source not in ("reader", "kernel", "supervisor")}
    assert own and own <= set(shipper.counters())
    assert {"kernel_lost", "netlink_overruns", "journal_dropped_records", "serial_gaps",
            "delivery_oversize"} <= set(LOSS_COUNTERS)


def test_growing_losses_are_logged_once(caplog: pytest.LogCaptureFixture,
                                        tmp_path: Path) -> None:
    shipper = Shipper(ShipperConfig(journal_dir=tmp_path, state_dir=tmp_path))
    shipper.session.assembler.serial_gaps = 5
    with caplog.at_level(logging.WARNING, logger="audit_heka.shipper"):
        shipper._log_losses()
        shipper._log_losses()  # nothing new: nothing logged
    assert [r.getMessage() for r in caplog.records] == [
        "serial_gaps +5 (total 5): audit events may be missing"
    ]


def test_every_counter_the_shipper_reports_is_in_the_registry(tmp_path: Path) -> None:
    """One registry of names and meanings: a counter nobody documented fails here."""
    shipper = Shipper(ShipperConfig(journal_dir=tmp_path, state_dir=tmp_path, enrich=True))
    names = {n.partition(".")[0] for n in shipper.counters()}
    assert names <= set(COUNTERS), sorted(names - set(COUNTERS))
    assert "enriched" in shipper.counters()


def test_health_carries_the_supervisors_and_readers_counters(tmp_path: Path) -> None:
    """rules_refused (supervisor) and kernel_lost (reader) reach the Heka stream;
    the last values stay when a status file is missing or half replaced."""
    status = tmp_path / "status.d"
    status.mkdir()
    (status / SUPERVISOR_STATUS_NAME).write_text(json.dumps(
        {"counters": {"rules_refused": 2, "rule_reloads": 1, "not_registered": 9}}))
    (status / READER_STATUS_NAME).write_text(json.dumps(
        {"counters": {"kernel_lost": 3, "netlink_overruns": 0, "netlink_records": 50}}))
    shipper = Shipper(ShipperConfig(journal_dir=tmp_path, state_dir=tmp_path, status_dir=status))
    got = shipper.upstream_counters()
    assert got == {"rules_refused": 2, "rule_reloads": 1, "kernel_lost": 3, "netlink_overruns": 0}
    assert set(got) <= set(UPSTREAM_COUNTERS)
    (status / READER_STATUS_NAME).write_text("{")  # being rewritten
    assert shipper.upstream_counters()["kernel_lost"] == 3
    shipper._send_health(final=True)
    ((data, _),) = shipper._held
    (framed,) = Unframer().feed(data)
    message = decode_message(framed.message)
    assert message.field("rules_refused").values == (2,)  # type: ignore[union-attr]
    assert message.severity == 4  # a loss counter (rules_refused) is above zero
