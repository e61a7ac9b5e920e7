"""The client against the in-process broker: connect, send, subscribe, ack, transactions."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from stomp_enterprise import (
    NotConnected,
)
from stomp_enterprise.core.coalescing import FIRST_PAUSE
from stomp_enterprise.testing import Broker
from stomp_enterprise.transport.socket import SocketTransport


def test_thread_names(make_client) -> None:
    with make_client() as client:
        names = {t.name for t in threading.enumerate()}
        assert any(n.startswith("stomp-reader-127.0.0.1:") for n in names)
        assert any(n.startswith("stomp-dispatch-") for n in names)
        assert client.broker is not None


def test_broker_url_fixture_round_trip(stomp_broker: Broker) -> None:
    assert stomp_broker.url.startswith("tcp://127.0.0.1:")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # 3.12+: fork with threads
def test_client_is_unusable_in_a_forked_child_with_a_clear_error(make_client) -> None:
    import os

    with make_client() as client:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what send() raised, then leave at once
            try:
                client.send("/queue/fork", b"x")
                result = b"sent"
            except NotConnected as exc:
                result = b"NotConnected:" + str(exc).encode()
            except BaseException as exc:
                result = repr(exc).encode()
            os.write(write_end, result)
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            result = pipe.read()
        os.waitpid(pid, 0)
        assert result.startswith(b"NotConnected:"), result
        assert b"fork" in result
        client.send("/queue/fork", b"parent still works", receipt=True)


@pytest.mark.parametrize("coalescing", [0.0, 0.0003, 0.002])
def test_read_coalescing_pauses_when_frames_were_waiting(
    make_client, stomp_broker: Broker, monkeypatch, coalescing
) -> None:
    """A reader that finds several frames already waiting when it comes back for more (here:
    held at its first parse until the broker has written all 1,000 MESSAGEs to the socket)
    pauses after them (when asked to), and loses nothing.

    The reader knows frames were waiting when its read returned within ``BUSY_WAIT``
    (0.5 ms); a reader that gets the GIL or a core back later than that on a loaded machine
    takes the read for one that waited, and does not pause: a missed pause costs batching,
    never a frame. So a round without any pause is repeated (up to 3 rounds); every round
    must deliver everything, and every pause must follow the rules."""
    from stomp_enterprise.client import connection
    from stomp_enterprise.protocol.parser import FrameParser

    pauses: list[float] = []
    monkeypatch.setattr(connection, "_pause", lambda s: (pauses.append(s), time.sleep(s)))
    hold = threading.Event()  # set: the next parse waits for `release`
    release = threading.Event()
    feed = FrameParser.feed

    def held_feed(parser: FrameParser, data: bytes):  # type: ignore[no-untyped-def]
        # the client's reader only (the in-process broker parses with the same class)
        if hold.is_set() and threading.current_thread().name.startswith("stomp-reader-"):
            hold.clear()
            release.wait(10)
        return feed(parser, data)

    monkeypatch.setattr(FrameParser, "feed", held_feed)
    eager: list[bytes | None] = []  # the reads after a pause: without select() first
    read_now = SocketTransport.read_now

    def watched_read_now(transport: SocketTransport) -> bytes | None:
        data = read_now(transport)
        eager.append(data)
        return data

    monkeypatch.setattr(SocketTransport, "read_now", watched_read_now)
    rounds = 0
    with make_client(read_coalescing=coalescing) as client:
        while rounds < 3 and not (rounds and (pauses or not coalescing)):
            rounds += 1
            destination = f"/queue/stream-{rounds}"
            for i in range(1000):
                client.send(destination, str(i))
            got: list[int] = []
            done = threading.Event()

            def handler(message, got=got, done=done) -> None:  # type: ignore[no-untyped-def]
                got.append(int(message.body))
                if len(got) == 1000:
                    done.set()

            release.clear()
            hold.set()
            sub = client.subscribe(destination, handler)
            stomp_broker.wait_for(
                lambda destination=destination: (
                    len(stomp_broker.deliveries(destination)) == 1000
                    and stomp_broker.unsent_bytes() == 0
                ),
                timeout=10,
            )
            release.set()
            assert done.wait(20)
            assert got == list(range(1000))  # every round: nothing lost, in order
            sub.unsubscribe(receipt=True)
    if not coalescing:
        assert pauses == []
        assert eager == []
        assert rounds == 1
        return
    # a stream starts with the first pause and each pause after it doubles up to the bound
    # (or the stream ended and a new one started)
    first = min(FIRST_PAUSE, coalescing)
    assert pauses, f"no pause in {rounds} rounds"
    assert pauses[0] == first
    for before, pause in itertools.pairwise(pauses):
        assert pause in (first, min(before * 2, coalescing))
    assert eager  # the read after each pause tried read_now first


def test_read_coalescing_never_delays_a_lone_frame(make_client, monkeypatch) -> None:
    """One frame per read (a receipt, a request's reply; a trailing EOL is not a frame) is
    read without a pause."""
    from stomp_enterprise.client import connection

    pauses: list[float] = []
    monkeypatch.setattr(connection, "_pause", pauses.append)
    with make_client(read_coalescing=0.0003) as client:
        for _ in range(50):
            client.send("/queue/lone", b"x", receipt=True)
        assert pauses == []
