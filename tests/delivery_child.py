"""A sender process for the SIGKILL test: spools and ships frames, prints progress.

Usage: delivery_child.py PORT SPOOL_DIR START COUNT
Prints "spooled N" (flushed) after every 100 frames handed to submit().
With COUNT 0 it only drains what the spool holds, then exits.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from heka_receivers import make_frame

from audit_heka.delivery import Delivery, DeliveryConfig
from audit_heka.outputs.target import parse_target


def main() -> None:
    port, spool_dir, start, count = sys.argv[1], Path(sys.argv[2]), *map(int, sys.argv[3:5])
    config = DeliveryConfig(spool_dir=spool_dir, hold=0.3, backoff_base=0.02, backoff_cap=0.2)
    delivery = Delivery.open([parse_target(f"127.0.0.1:{port}")], config)
    for i in range(start, start + count):
        while not delivery.submit(make_frame(i)):
            delivery.wait_for_room(0.1)
        if (i + 1 - start) % 100 == 0:
            print(f"spooled {i + 1}", flush=True)
            time.sleep(0.005)
    delivery.close(flush_timeout=20)
    print("counters", delivery.counters(), flush=True)


if __name__ == "__main__":
    main()
