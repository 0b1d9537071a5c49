"""Delivery.submit_many: a batch behaves exactly like submitting its frames one by one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from heka_receivers import TcpReceiver, make_frame

from audit_heka.delivery import Delivery, DeliveryConfig
from audit_heka.outputs.target import parse_target

FAST = DeliveryConfig(hold=0.3, backoff_base=0.01, backoff_cap=0.2, poll_interval=0.01)


def test_a_batch_reaches_the_receiver_in_order(tmp_path: Path) -> None:
    receiver = TcpReceiver()
    delivery = Delivery.open([parse_target(f"127.0.0.1:{receiver.port}")],
                             FAST)
    frames = [make_frame(i) for i in range(300)]
    assert delivery.submit_many(frames[:100]) == 100
    assert delivery.submit_many([]) == 0
    assert delivery.submit_many(frames[100:]) == 200
    assert receiver.wait_for(set(range(300)), 10) == set()
    delivery.close(5)
    assert receiver.received() == list(range(300))
    assert delivery.counters()["queued"] == 300
    receiver.kill()


def test_a_full_queue_takes_a_prefix(tmp_path: Path) -> None:
    receiver = TcpReceiver()
    port = receiver.port
    receiver.kill()  # nothing listens: the queue only fills
    config = replace(FAST, max_bytes=64 * 1024)
    delivery = Delivery.open([parse_target(f"127.0.0.1:{port}")], config)
    frames = [make_frame(i) for i in range(2000)]
    taken = delivery.submit_many(frames)
    assert 0 < taken < 2000
    assert delivery.counters()["queued"] == taken
    assert not delivery.submit(frames[taken])  # still full: the caller holds the rest
    receiver = TcpReceiver(port=port)
    assert receiver.wait_for(set(range(taken)), 10) == set()
    delivery.close(5)
    assert set(receiver.received()) == set(range(taken))
    receiver.kill()
