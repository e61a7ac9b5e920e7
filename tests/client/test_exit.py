"""A program that ends without ``disconnect()`` exits, and what it sent is not lost.

Each test runs a small program in a child interpreter against the in-process broker of
the test process, and bounds how long the child may take to exit: with non-daemon client
threads (the old code) the child never exits and the test fails on the bound.
"""

from __future__ import annotations

import subprocess

from stomp_enterprise.testing import Broker
from tests.subproc import run_program, start_program

_EXIT_BOUND = 20.0  # seconds; the children below exit in well under 2


_PREAMBLE = """
import logging, sys, threading, time
from stomp_enterprise import Client
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
URL = sys.argv[1]
"""


def _run(program: str, url: str) -> subprocess.CompletedProcess[str]:
    return run_program(_PREAMBLE, program, url, timeout=_EXIT_BOUND)


def test_a_program_that_forgets_disconnect_exits_and_its_sends_arrive(
    stomp_broker: Broker,
) -> None:
    result = _run(
        """
        client = Client(URL, heart_beats=(0, 0))
        client.connect()
        for n in range(500):
            client.send("/queue/exit", b"%d" % n)  # accepted: queued, not yet confirmed
        print("sent")
        """,
        stomp_broker.url,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sent"
    assert "exiting without disconnect()" in result.stderr
    bodies = [m.body for m in stomp_broker.sent_messages("/queue/exit")]
    assert bodies == [b"%d" % n for n in range(500)]
    assert stomp_broker.received_frames("DISCONNECT"), "the exit hook disconnects politely"
    assert stomp_broker.wait_for(lambda: stomp_broker.connections == 0, timeout=5)


def test_an_uncaught_exception_still_exits_with_its_status_and_keeps_the_sends(
    stomp_broker: Broker,
) -> None:
    result = _run(
        """
        client = Client(URL, heart_beats=(0, 0))
        client.connect()
        client.subscribe("/queue/unused", lambda message: None)
        for n in range(50):
            client.send("/queue/crash", b"%d" % n)
        raise RuntimeError("the application failed")
        """,
        stomp_broker.url,
    )
    assert result.returncode == 1
    assert "RuntimeError: the application failed" in result.stderr
    assert len(stomp_broker.sent_messages("/queue/crash")) == 50


def test_a_handler_in_flight_at_exit_finishes_and_its_send_arrives(stomp_broker: Broker) -> None:
    stomp_broker.publish("/queue/work", b"job")
    result = _run(
        """
        started = threading.Event()

        def handler(message):
            started.set()
            time.sleep(0.3)  # still running when the main thread ends
            client.send("/queue/done", b"done " + message.body)
            message.ack()

        client = Client(URL, heart_beats=(0, 0))
        client.connect()
        client.subscribe("/queue/work", handler, ack="client-individual")
        assert started.wait(5)
        """,
        stomp_broker.url,
    )
    assert result.returncode == 0, result.stderr
    assert [m.body for m in stomp_broker.sent_messages("/queue/done")] == [b"done job"]
    assert stomp_broker.unacked("/queue/work") == 0
    assert stomp_broker.queue_depth("/queue/work") == 0


def test_a_stuck_handler_does_not_keep_the_program_alive(stomp_broker: Broker) -> None:
    """The exit hook is ``disconnect()``: bounded by ``timeouts.drain`` for a handler that
    never returns (its daemon thread is left behind, named in a WARNING)."""
    stomp_broker.publish("/queue/stuck", b"job")
    result = _run(
        """
        started = threading.Event()

        def handler(message):
            started.set()
            time.sleep(3600)

        client = Client(URL, heart_beats=(0, 0), timeouts={"drain": 0.3, "disconnect": 1.0})
        client.connect()
        client.subscribe("/queue/stuck", handler, ack="client-individual")
        assert started.wait(5)
        """,
        stomp_broker.url,
    )
    assert result.returncode == 0, result.stderr
    assert "handlers still running after 0.3s" in result.stderr
    assert stomp_broker.received_frames("DISCONNECT")
    assert stomp_broker.unacked("/queue/stuck") == 0  # the broker redelivers it to the next
    assert stomp_broker.queue_depth("/queue/stuck") == 1


def test_a_program_that_disconnects_is_not_disconnected_again(stomp_broker: Broker) -> None:
    result = _run(
        """
        with Client(URL, heart_beats=(0, 0)) as client:
            client.send("/queue/polite", b"x")
        never = Client(URL)  # made, never connected: nothing to close
        """,
        stomp_broker.url,
    )
    assert result.returncode == 0, result.stderr
    assert "exiting without disconnect()" not in result.stderr
    assert len(stomp_broker.received_frames("DISCONNECT")) == 1


def test_a_client_reconnecting_at_exit_does_not_keep_the_program_alive(
    stomp_broker: Broker,
) -> None:
    """The broker is gone and the failover client retries forever (the default): the
    program still exits when its main thread ends, without waiting for a reconnect."""
    url = f"failover:({stomp_broker.url})?initialReconnectDelay=50&maxReconnectDelay=100"
    child = start_program(
        _PREAMBLE,
        """
        client = Client(URL, heart_beats=(0, 0))
        client.listeners.on("disconnected", lambda error: print("lost", flush=True))
        client.connect()
        print("connected", flush=True)
        sys.stdin.readline()  # the test stops the broker, then says go on
        print("connected now:", client.is_connected, flush=True)
        """,
        url,
    )
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline().strip() == "connected"
        stomp_broker.stop(graceful=False)
        assert child.stdout.readline().strip() == "lost"
        child.stdin.write("go on\n")
        child.stdin.flush()
        out, err = child.communicate(timeout=_EXIT_BOUND)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err
    assert out.strip() == "connected now: False"
