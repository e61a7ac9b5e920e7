"""A consumer process: client-individual acks, an error queue, graceful shutdown on SIGTERM.

Each order is acked after it is processed; an order the handler cannot process is forwarded
to ``/queue/orders.errors`` (with an ``x-stomp-enterprise-error`` header saying why) and then
acked, so one bad message never blocks the queue. On SIGTERM or Ctrl-C the worker
unsubscribes, lets the handler in flight finish, disconnects and exits 0.

Run it::

    python examples/worker.py 'failover:(tcp://127.0.0.1:61613)?timeout=5000'
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from stomp_enterprise import Client, Message

log = logging.getLogger("worker")

ORDERS = "/queue/orders"
ERRORS = "/queue/orders.errors"


def process_order(message: Message) -> None:
    """The business logic: raise to reject the order (it then goes to the error queue)."""
    order = json.loads(message.body)
    if not isinstance(order.get("qty", 1), int) or order.get("qty", 1) < 1:
        raise ValueError(f"invalid quantity {order.get('qty')!r}")
    log.info("processed order %s: %s x %s", order.get("id"), order.get("qty", 1), order["item"])


def run(
    url: str,
    stop: threading.Event,
    *,
    process: Callable[[Message], Any] = process_order,
    ready: threading.Event | None = None,
    **client_options: Any,
) -> int:
    """Consume until ``stop`` is set; return how many orders were processed and acked.

    Runs on the calling thread; the handler runs on the client's dispatcher thread.
    """
    processed = 0
    lock = threading.Lock()

    def handle(message: Message) -> None:
        nonlocal processed
        process(message)  # raising sends the message to ERRORS (then it is acked)
        message.ack()
        with lock:
            processed += 1

    with Client(url, **client_options) as client:
        subscription = client.subscribe(
            ORDERS,
            handle,
            ack="client-individual",
            error_destination=ERRORS,
            headers={"activemq.prefetchSize": "10", "prefetch-count": "10"},
            receipt=True,
        )
        log.info("consuming %s on %s", ORDERS, client.broker)
        if ready is not None:
            ready.set()
        stop.wait()
        log.info("stopping: no new messages; waiting for the handler in flight")
        subscription.unsubscribe()
    # leaving the block disconnected: in-flight handlers drained (bounded), threads joined
    return processed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="broker or failover URI")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    count = run(args.url, stop)
    log.info("processed %d orders; bye", count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
