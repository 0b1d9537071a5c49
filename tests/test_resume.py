"""resume.py: the resume point only moves past frames known delivered."""

from __future__ import annotations

from audit_heka.core.resume import ResumeTracker


def test_resume_point_waits_for_acknowledgement_and_hold() -> None:
    t = ResumeTracker(start_mark=5, hold=1.0)
    for mark, at in ((10, 0.0), (20, 1.0), (30, 2.0)):
        t.sent(100)
        t.checkpoint(mark, at)
    t.acknowledged(150, now=5.0)  # only the first batch's bytes are acknowledged
    assert (t.safe_mark, t.delivered_frames) == (10, 1)
    t.acknowledged(300, now=2.5)  # all acknowledged, the last one less than `hold` ago
    assert (t.safe_mark, t.delivered_frames) == (20, 2)
    t.acknowledged(300, now=float("inf"))  # a clean stop: acknowledged means delivered
    assert (t.safe_mark, t.delivered_frames, t.delivered_bytes) == (30, 3, 300)


def test_nothing_in_flight_moves_the_mark_at_once_and_same_bytes_coalesce() -> None:
    t = ResumeTracker(start_mark=0)
    t.checkpoint(7, 0.0)  # lines without events: nothing to deliver first
    assert t.safe_mark == 7
    t.sent(10)
    t.checkpoint(8, 0.0)
    t.checkpoint(9, 0.0)  # no new bytes: the same checkpoint, a later mark
    assert t.safe_mark == 7
    t.acknowledged(10, 0.0)
    assert (t.safe_mark, t.delivered_frames) == (9, 1)
    t.sent(10)
    t.checkpoint(12, 0.0)
    t.acknowledged(15, 100.0)  # half a frame acknowledged is not delivered
    assert t.safe_mark == 9
