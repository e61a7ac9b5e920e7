"""Threading, heart-beats, callbacks re-entering the client, listeners and error policies."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from stomp_enterprise import ConnectFailed, ConnectTimeout, HeartbeatTimeout, NotConnected
from stomp_enterprise.client.subscription import FAILURE_HEADER, ORIGINAL_DESTINATION_HEADER
from stomp_enterprise.protocol import FrameParser


def test_sends_from_many_threads_never_interleave_on_the_wire(make_client, stomp_broker) -> None:
    """Large bodies from 8 threads at once: the broker's parser sees only whole frames."""
    body = bytes(range(256)) * 256  # 64 KiB with NULs
    with make_client() as client:
        threads = [
            threading.Thread(target=lambda: [client.send("/queue/big", body) for _ in range(20)])
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        client.send("/queue/big", b"end", receipt=True)
    frames = stomp_broker.received_frames("SEND")
    assert len(frames) == 161
    assert all(f.body == body for f in frames[:-1])


def test_callbacks_can_ack_send_unsubscribe_and_disconnect(make_client, recorder) -> None:
    done = recorder()
    with make_client() as client:
        out = client.subscribe("/queue/out")

        def handler(message) -> None:
            message.ack()
            client.send("/queue/out", b"reply:" + message.body, receipt=True)
            message.subscription.unsubscribe(receipt=True)
            done(message.body)

        client.subscribe("/queue/in", handler, ack="client-individual")
        client.send("/queue/in", b"1")
        assert done.wait(1) == [b"1"]
        assert out.get(timeout=5).body == b"reply:1"

        def disconnecting(message) -> None:
            client.disconnect()
            done(message.body)

        client.subscribe("/queue/stop", disconnecting)
        client.send("/queue/stop", b"2")
        done.wait(2)
        deadline = time.monotonic() + 5
        while client.is_connected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not client.is_connected


def test_slow_handler_does_not_starve_heart_beats(
    new_client, stomp_broker_factory, recorder
) -> None:
    broker = stomp_broker_factory(heart_beat_grace=2.0)
    done = recorder()
    timeouts = recorder()
    with new_client(broker.url, heart_beats=(500, 500)) as client:
        client.listeners.on("heartbeat_timeout", timeouts)

        def slow(message) -> None:
            time.sleep(2.0)
            done(message.body)

        client.subscribe("/queue/slow", slow)
        client.send("/queue/slow", b"x")
        done.wait(1, timeout=10)
        assert client.is_connected
        client.send("/queue/slow2", b"still fine", receipt=True)
    assert timeouts.items == []
    assert broker.received_frames("DISCONNECT")


def test_silent_broker_is_detected_by_heart_beats(
    new_client, stomp_broker_factory, recorder
) -> None:
    broker = stomp_broker_factory()
    timeouts, disconnects = recorder(), recorder()
    client = new_client(broker.url, heart_beats=(200, 200), timeouts={"disconnect": 0.5})
    client.listeners.on("heartbeat_timeout", timeouts)
    client.listeners.on("disconnected", disconnects)
    with client:
        broker.go_silent()
        started = time.monotonic()
        error = timeouts.wait(1, timeout=5)[0]
        detected_after = time.monotonic() - started
        assert isinstance(error, HeartbeatTimeout)
        # generous: the exact window (1.5 x 200 ms) is tested against the heart-beat
        # decision's injectable clock, not the wall clock
        assert detected_after < 3.0
        disconnects.wait(1)
        assert not client.is_connected
        with pytest.raises(NotConnected):
            client.send("/queue/x", b"x")
        broker.resume()
    time.sleep(0.1)
    assert len(disconnects.items) == 1  # exactly once per lost connection


def test_listeners_run_in_registration_order_and_survive_exceptions(
    make_client, recorder, caplog
) -> None:
    calls = recorder()

    def failing(info) -> None:
        calls("first")
        raise ValueError("listener bug")

    client = make_client()
    client.listeners.on("connected", failing)
    client.listeners.on("connected", lambda info: calls(("second", info.reconnect)))

    class Obj:
        def on_connected(self, info) -> None:
            calls("third")

    client.listeners.add(Obj())
    with caplog.at_level(logging.ERROR), client:
        assert calls.wait(3) == ["first", ("second", False), "third"]
    assert "listener bug" in caplog.text


def test_error_destination_forwards_then_acks(make_client, stomp_broker) -> None:
    with make_client() as client:
        dlq = client.subscribe("/queue/errors")

        def broken(message) -> None:
            raise RuntimeError("cannot handle")

        client.subscribe(
            "/queue/work", broken, ack="client-individual", error_destination="/queue/errors"
        )
        client.send("/queue/work", b"payload", {"x-app": "1"})
        forwarded = dlq.get(timeout=5)
        assert forwarded.body == b"payload"
        assert forwarded.headers["x-app"] == "1"
        assert "RuntimeError: cannot handle" in forwarded.headers[FAILURE_HEADER]
        assert forwarded.headers[ORIGINAL_DESTINATION_HEADER] == "/queue/work"
        stomp_broker.wait_for(lambda: stomp_broker.unacked("/queue/work") == 0)
        assert client.is_connected


def test_nack_policy_and_custom_policy(make_client, recorder) -> None:
    failures = recorder()
    custom = recorder()
    with make_client() as client:
        client.listeners.on("handler_error", failures)
        attempts = recorder()

        def flaky(message) -> None:
            attempts(message.redelivered)
            if not message.redelivered:
                raise RuntimeError("first time fails")
            message.ack()

        client.subscribe("/queue/flaky", flaky, ack="client-individual", on_error="nack")
        client.send("/queue/flaky", b"x")
        assert attempts.wait(2) == [False, True]
        assert isinstance(failures.wait(1)[0][1], RuntimeError)

        def policy(message, error) -> None:
            custom((message.body, str(error)))
            message.ack()

        client.subscribe("/queue/custom", lambda m: 1 / 0, ack="client", on_error=policy)
        client.send("/queue/custom", b"y")
        assert custom.wait(1) == [(b"y", "division by zero")]


def test_disconnect_policy_is_the_default(make_client, recorder) -> None:
    disconnected = recorder()
    with make_client() as client:
        client.listeners.on("disconnected", disconnected)
        client.subscribe("/queue/poison", lambda m: 1 / 0, ack="client-individual")
        client.send("/queue/poison", b"pill")
        assert disconnected.wait(1, timeout=10) == [None]
        assert not client.is_connected


def test_worker_pool_keeps_order_per_subscription(make_client, recorder) -> None:
    per_sub: dict[str, list[int]] = {}
    lock = threading.Lock()
    done = recorder()
    with make_client(dispatch_workers=4) as client:

        def handler(message) -> None:
            with lock:
                per_sub.setdefault(message.subscription.id, []).append(int(message.body))
            done(1)

        for name in ("a", "b", "c", "d"):
            client.subscribe(f"/queue/pool-{name}", handler)
        for i in range(50):
            for name in ("a", "b", "c", "d"):
                client.send(f"/queue/pool-{name}", str(i))
        done.wait(200, timeout=15)
    assert len(per_sub) == 4
    assert all(values == list(range(50)) for values in per_sub.values())
    workers = {t.name for t in threading.enumerate() if t.name.startswith("stomp-dispatch")}
    assert workers == set()  # all joined after disconnect


def test_disconnect_drains_in_flight_handlers(make_client, recorder) -> None:
    finished = recorder()
    with make_client(timeouts={"drain": 5.0, "disconnect": 2.0}) as client:

        def slowish(message) -> None:
            time.sleep(0.3)
            finished(message.body)

        client.subscribe("/queue/drain", slowish)
        for i in range(3):
            client.send("/queue/drain", str(i), receipt=True)
        time.sleep(0.1)
    assert [b.decode() for b in finished.items] == ["0", "1", "2"]


def test_not_a_stomp_peer_fails_clearly(new_client) -> None:
    """A server that greets with binary (like ActiveMQ's OpenWire port)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"\x00\x00\x01\x4a\x01ActiveMQ\x00\x00\x00\x0c\x01")
            stop.wait(10)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        # a CONNECTED timeout past the per-test timeout: only the parse error can end it
        client = new_client(
            f"tcp://127.0.0.1:{port}", heart_beats=(0, 0), timeouts={"connected": 300}
        )
        with pytest.raises(Exception) as info:
            client.connect()
        assert "not a STOMP" in str(info.value)
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_broker_that_never_answers_connect_times_out(new_client, stomp_broker_factory) -> None:
    broker = stomp_broker_factory()
    broker.go_silent()
    client = new_client(broker.url, heart_beats=(0, 0), timeouts={"connected": 0.5})
    with pytest.raises(ConnectFailed, match="CONNECTED") as info:  # (a hang: the test timeout)
        client.connect()
    assert isinstance(info.value.attempts[0][1], ConnectTimeout)
    broker.resume()


def test_reader_parses_what_the_client_writes(make_client, stomp_broker) -> None:
    """Headers with every special character survive the trip in 1.2."""
    tricky = {"x-a": "colon:newline\nback\\slash\rcr", "x-unicode": "żółw ☃"}
    with make_client() as client:
        sub = client.subscribe("/queue/tricky")
        client.send("/queue/tricky", b"", tricky, receipt=True)
        message = sub.get(timeout=5)
        for key, value in tricky.items():
            assert message.headers[key] == value
    parser = FrameParser()
    assert parser.feed(b"\n") == []


def test_a_handler_may_ack_then_wait_for_the_answer_to_its_own_send(
    make_client, stomp_broker
) -> None:
    """A handler's ACK waits for the batch (see Subscription._deliver_all); its sends do not,
    and carry the ACK queued before them, so a handler may wait for what its send causes."""
    stomp_broker.publish("/queue/hold-in", b"request")
    seen: list[tuple[int, int]] = []
    returned = threading.Event()
    with make_client() as client:

        def handler(message) -> None:
            message.ack()
            client.send("/queue/hold-reply", b"reply")
            stomp_broker.wait_for(lambda: stomp_broker.sent_messages("/queue/hold-reply"))
            seen.append((len(stomp_broker.received_frames("ACK")), stomp_broker.unacked()))
            returned.set()

        client.subscribe("/queue/hold-in", handler, ack="client-individual")
        assert returned.wait(5)
        assert seen == [(1, 0)]  # wire order kept: the ACK went before the reply
