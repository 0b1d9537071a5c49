"""logconfig.py: who speaks at which --log-level, timestamps unless stderr is the journal."""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit_heka.logconfig import configure_logging, plain_line, under_journald

STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4} audit-heka: ")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    own = logging.getLogger("audit_heka").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("audit_heka").setLevel(own)


def emit() -> None:
    logging.getLogger("audit_heka.shipper").debug("own debug")
    logging.getLogger("audit_heka.shipper").info("own info")
    logging.getLogger("pyroute2.netlink.core").debug("message {'header': ...}")
    logging.getLogger("pyroute2.netlink.core").warning("library warning")


def logged(level: str, environ: dict[str, str] | None = None) -> list[str]:
    out = io.StringIO()
    configure_logging(level, stream=out, environ=environ or {})
    emit()
    return out.getvalue().splitlines()


def test_levels_keep_libraries_at_warning_unless_debug_all() -> None:
    info = logged("info")
    assert [line.split("audit-heka: ")[1] for line in info] == [
        "INFO own info", "WARNING [pyroute2.netlink.core] library warning"]
    debug = logged("debug")
    assert any("own debug" in line for line in debug)
    assert not any("message {" in line for line in debug)  # no netlink dumps with -v
    assert any("DEBUG [pyroute2.netlink.core] message {" in line for line in logged("debug-all"))
    assert [line.split("audit-heka: ")[1] for line in logged("warning")] == [
        "WARNING [pyroute2.netlink.core] library warning"]
    assert all(STAMPED.match(line) for line in info)
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("loud")


def test_journal_stream_gets_priorities_and_no_timestamps(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as stream, os.fdopen(read_end) as reader:
        st = os.fstat(write_end)
        journal = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert under_journald(stream, journal)
        configure_logging("info", stream=stream, environ=journal)
        emit()
        stream.flush()
        stream.close()
        lines = reader.read().splitlines()
    assert lines == ["<6>audit-heka: INFO own info",
                     "<4>audit-heka: WARNING [pyroute2.netlink.core] library warning"]
    # A child that redirected stderr elsewhere inherits JOURNAL_STREAM: not the journal.
    other = tmp_path / "log"
    with other.open("w") as stream:
        assert not under_journald(stream, journal)
        assert not under_journald(stream, {"JOURNAL_STREAM": "garbage"})


def test_a_child_line_without_logging_looks_like_a_logged_one() -> None:
    """The reader writes its few lines without logging: same stamp, same shape."""
    out = io.StringIO()
    configure_logging("info", stream=out, environ={}, who="shipper: ")
    logging.getLogger("audit_heka.shipper").warning("cursor lost")
    logged_line = out.getvalue().rstrip("\n")
    plain = plain_line("audit-heka", "WARNING", "reader: cursor lost", journal=False,
                       created=1795600000.25)
    assert STAMPED.match(logged_line) and STAMPED.match(plain)
    assert logged_line.split(" ", 1)[1] == "audit-heka: WARNING shipper: cursor lost"
    assert plain.split(" ", 1)[1] == "audit-heka: WARNING reader: cursor lost"
    assert ".250" in plain.split(" ", 1)[0]
    assert plain_line("audit-heka", "ERROR", "x", journal=True, created=0.0) == (
        "<3>audit-heka: ERROR x")
