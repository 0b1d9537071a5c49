"""The outputs against hostile receivers: one that talks back garbage, one that stalls.

A Heka receiver never writes to its senders; one that does (a wrong service
on the port, an attacker) must not confuse the sender's close detection,
grow its memory, or stop delivery. A receiver that accepts and never reads
must end in counted backpressure, never in unbounded memory.
"""

from __future__ import annotations

import random
import socket
import threading
import time
import uuid as uuid_module
from dataclasses import replace
from pathlib import Path

from heka_receivers import TcpReceiver, make_frame

from audit_heka.delivery import Delivery, DeliveryConfig
from audit_heka.heka.framing import Unframer
from audit_heka.heka.message import decode_message
from audit_heka.outputs.target import parse_target
from audit_heka.outputs.transport import TransportOptions

FAST = DeliveryConfig(backoff_base=0.01, backoff_cap=0.2, poll_interval=0.01, hold=0.2)


class ChattyReceiver:
    """Reads frames like Heka, but writes random bytes back all the time."""

    def __init__(self, garbage_bytes: int) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = int(self.sock.getsockname()[1])
        self.indexes: set[int] = set()
        self.sent_garbage = 0
        self._garbage = garbage_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        conn.settimeout(0.05)
        unframer = Unframer()
        rng = random.Random(3)
        with conn:
            while not self._stop.is_set():
                if self.sent_garbage < self._garbage:
                    try:
                        self.sent_garbage += conn.send(rng.randbytes(64 * 1024))
                    except (TimeoutError, BlockingIOError):
                        pass
                    except OSError:
                        return  # the sender closed: reset or broken pipe
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                for unframed in unframer.feed(data):
                    msg = decode_message(unframed.message)
                    self.indexes.add(uuid_module.UUID(bytes=msg.uuid).int)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def test_receiver_writing_garbage_back_still_gets_every_frame(tmp_path: Path) -> None:
    receiver = ChattyReceiver(garbage_bytes=8 * 1024 * 1024)
    delivery = Delivery.open([parse_target(f"127.0.0.1:{receiver.port}")], _config(tmp_path))
    for i in range(2000):
        assert delivery.submit(make_frame(i, payload_size=200))
    deadline = time.monotonic() + 20
    while len(receiver.indexes) < 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    counters = delivery.counters()
    delivery.close(2.0)
    receiver.close()
    assert receiver.indexes == set(range(2000)), counters
    assert receiver.sent_garbage > 0
    print(f"receiver wrote {receiver.sent_garbage} garbage bytes back; counters {counters}")


def _config(tmp_path: Path, **changes: object) -> DeliveryConfig:
    return replace(FAST, **changes)  # type: ignore[arg-type]


def test_stalled_receiver_ends_in_bounded_memory_and_backpressure(tmp_path: Path) -> None:
    receiver = TcpReceiver(mode="never_read")
    delivery = Delivery.open(
        [parse_target(f"127.0.0.1:{receiver.port}")],
        _config(tmp_path, max_bytes=1024 * 1024, transport=TransportOptions(send_timeout=30)),
    )
    frames = 600
    accepted = 0
    for i in range(frames):  # ~12 MB offered
        if not delivery.submit(make_frame(i, payload_size=20_000), token=i):
            break
        accepted += 1
    time.sleep(1.0)
    counters = delivery.counters()
    held = delivery.workers[0].state.pending_bytes
    delivery.close(1.0)
    receiver.kill()
    assert held <= 1024 * 1024
    assert accepted < frames  # backpressure: the caller (the shipper) keeps the rest
    assert counters["queued"] == accepted
    # Whatever the receiver's socket window took may count as acknowledged; the
    # rest is still pending and the cursor stays before it.
    assert delivery.lowest_token() is not None
    print(f"stalled receiver: accepted {accepted}, {counters}")
