"""client.request() and client.serve() against the in-process broker, in each of the three
ways a broker can give a client its replies (ActiveMQ-style and RabbitMQ-style temporary
queues, and a private queue as on Artemis)."""

from __future__ import annotations

import logging
import threading

import pytest

from stomp_enterprise import (
    ConfigError,
    ConnectionLost,
    Reply,
    RequestTimeout,
)
from stomp_enterprise.testing import Broker

FLAVOURS = ["stomp-enterprise-testing", "RabbitMQ/3.10.8", "ActiveMQ-Artemis/2.40.0"]
FAST = "initialReconnectDelay=20&maxReconnectDelay=200"


@pytest.fixture(params=FLAVOURS)
def broker(request, stomp_broker_factory) -> Broker:
    return stomp_broker_factory(name=request.param)


def upper(message) -> str:
    return message.text.upper()


def test_a_request_gets_its_reply(broker, make_client) -> None:
    server = make_client(broker.url).connect()
    client = make_client(broker.url).connect()
    server.serve("/queue/svc", upper, receipt=True)
    reply = client.request("/queue/svc", "hello", timeout=5)
    assert reply.text == "HELLO"
    request = broker.sent_messages("/queue/svc")[0]
    assert reply.headers["correlation-id"] == request.header("correlation-id")
    # the broker rewrote reply-to to its own name for the client's temporary queue (or the
    # client's private queue on Artemis)
    assert request.header("reply-to").startswith(
        ("/remote-temp-queue/", "/reply-queue/", "/queue/stomp-reply.")
    )


def test_many_threads_share_one_reply_subscription(broker, make_client) -> None:
    server = make_client(broker.url).connect()
    client = make_client(broker.url).connect()
    server.serve("/queue/svc", upper, receipt=True)
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                results[n * 10 + i] = client.request("/queue/svc", f"t{n}-{i}", timeout=5).text
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == {n * 10 + i: f"T{n}-{i}" for n in range(16) for i in range(5)}
    replies = [s for s in client.subscriptions if s.id.endswith(client._requester.name)]
    assert len(replies) == 1


def test_no_reply_raises_a_request_timeout_naming_the_request(broker, make_client) -> None:
    client = make_client(broker.url).connect()
    with pytest.raises(RequestTimeout) as caught:
        client.request("/queue/nobody", b"x", timeout=0.2)
    request = broker.sent_messages("/queue/nobody")[0]
    assert caught.value.destination == "/queue/nobody"
    assert caught.value.correlation_id == request.header("correlation-id")
    assert caught.value.correlation_id in str(caught.value)


def test_a_late_reply_is_dropped_and_counted(broker, make_client, recorder) -> None:
    server = make_client(broker.url).connect()
    client = make_client(broker.url).connect()
    late = recorder()
    client.observe(lambda name, value, attrs: late(value) if name == "late_replies" else None)
    timed_out = threading.Event()

    def slow(message) -> str:
        timed_out.wait(5)
        return "too late"

    server.serve("/queue/slow", slow, receipt=True)
    with pytest.raises(RequestTimeout):
        client.request("/queue/slow", b"x", timeout=0.2)
    timed_out.set()
    assert late.wait(1) == [1]
    assert client.stats().late_replies == 1
    assert client.stats().request_timeouts == 1
    # the next request is not confused by it
    server.unsubscribe(server.subscriptions[0])
    server.serve("/queue/svc", upper, receipt=True)
    assert client.request("/queue/svc", "ok", timeout=5).text == "OK"


def test_a_handler_may_make_a_request(broker, make_client, recorder) -> None:
    # one dispatcher thread: the reply must not need it
    server = make_client(broker.url).connect()
    client = make_client(broker.url, dispatch_workers=1).connect()
    server.serve("/queue/svc", upper, receipt=True)
    got = recorder()
    client.subscribe(
        "/queue/trigger",
        lambda m: got(client.request("/queue/svc", m.body, timeout=5).text),
        receipt=True,
    )
    client.send("/queue/trigger", b"from a handler")
    assert got.wait(1) == ["FROM A HANDLER"]


def test_a_lost_connection_fails_requests_in_flight_and_requests_work_after_reconnect(
    broker, make_client, recorder
) -> None:
    url = f"failover:(tcp://127.0.0.1:{broker.port})?{FAST}"
    server = make_client(url).connect()
    client = make_client(url).connect()
    connected = recorder()
    client.listeners.on("connected", connected)
    hold = threading.Event()
    arrived = threading.Event()

    def first_blocks(message) -> str:
        if message.text == "first":
            arrived.set()
            hold.wait(5)
        return message.text.upper()

    # its reply to the first request fails with the connection: ignored, it is served on
    server.serve("/queue/svc", first_blocks, on_error="ignore", receipt=True)
    outcome: list[BaseException | str] = []

    def ask() -> None:
        try:
            outcome.append(client.request("/queue/svc", "first", timeout=10).text)
        except BaseException as exc:
            outcome.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    assert arrived.wait(5)
    broker.drop_connections()
    asker.join(10)
    hold.set()
    assert len(outcome) == 1
    assert isinstance(outcome[0], ConnectionLost)
    assert "may or may not have been processed" in str(outcome[0])
    connected.wait(2)  # the initial connection and the reconnect
    assert client.request("/queue/svc", "second", timeout=5).text == "SECOND"


def test_closing_the_client_fails_waiting_requests(stomp_broker, make_client) -> None:
    client = make_client().connect()
    errors: list[BaseException] = []
    started = threading.Event()

    def ask() -> None:
        started.set()
        try:
            client.request("/queue/nobody", b"x", timeout=10)
        except BaseException as exc:
            errors.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    started.wait(5)
    while not stomp_broker.sent_messages():  # the request is out
        threading.Event().wait(0.01)
    client.disconnect()
    asker.join(5)
    assert len(errors) == 1
    assert isinstance(errors[0], ConnectionLost)
    assert "closed" in str(errors[0])


@pytest.mark.parametrize("timeout", [0, -1, None, "1", True])
def test_the_timeout_must_be_a_positive_number(stomp_broker, make_client, timeout) -> None:
    client = make_client().connect()
    with pytest.raises(ConfigError, match="timeout"):
        client.request("/queue/svc", b"", timeout=timeout)


@pytest.mark.parametrize("header", ["correlation-id", "reply-to"])
def test_request_headers_may_not_set_correlation(stomp_broker, make_client, header) -> None:
    client = make_client().connect()
    with pytest.raises(ConfigError, match="correlation-id and reply-to"):
        client.request("/queue/svc", b"", timeout=1, headers={header: "x"})
    assert stomp_broker.sent_messages() == []


def test_a_reply_object_sets_headers_and_content_type(stomp_broker, make_client) -> None:
    server = make_client().connect()
    client = make_client().connect()
    server.serve(
        "/queue/svc",
        lambda m: Reply('{"ok": true}', {"x-status": "200"}, "application/json;charset=utf-8"),
        receipt=True,
    )
    reply = client.request("/queue/svc", b"", timeout=5, headers={"x-trace": "t"})
    assert reply.text == '{"ok": true}'
    assert reply.headers["x-status"] == "200"
    assert reply.content_type == "application/json;charset=utf-8"
    assert stomp_broker.sent_messages("/queue/svc")[0].header("x-trace")


def test_a_failing_responder_goes_through_the_error_policy(stomp_broker, make_client, recorder):
    server = make_client().connect()
    client = make_client().connect()
    failures = recorder()

    def broken(message) -> bytes:
        raise ValueError("no answer")

    server.serve("/queue/svc", broken, on_error=lambda m, e: failures(e), receipt=True)
    server.serve("/queue/odd", lambda m: 42, on_error=lambda m, e: failures(e), receipt=True)
    with pytest.raises(RequestTimeout):
        client.request("/queue/svc", b"", timeout=0.3)
    with pytest.raises(RequestTimeout):
        client.request("/queue/odd", b"", timeout=0.3)
    errors = failures.wait(2)
    assert isinstance(errors[0], ValueError)
    assert isinstance(errors[1], ConfigError)
    assert "got int" in str(errors[1])


def test_a_request_without_reply_to_is_handled_and_logged(stomp_broker, make_client, caplog):
    server = make_client().connect()
    done = threading.Event()

    def handler(message) -> bytes:
        done.set()
        return b"nobody to tell"

    server.serve("/queue/svc", handler, receipt=True)
    with caplog.at_level(logging.WARNING, logger="stomp_enterprise"):
        server.send("/queue/svc", b"plain message", receipt=True)
        assert done.wait(5)
        server._dispatcher.drain(5)
    assert "has no reply-to header: no reply sent" in caplog.text
    assert [m.destination for m in stomp_broker.sent_messages()] == ["/queue/svc"]


def test_with_client_acks_the_request_is_acked_after_its_reply(stomp_broker, make_client):
    server = make_client().connect()
    client = make_client().connect()
    server.serve("/queue/svc", upper, ack="client-individual", receipt=True)
    assert client.request("/queue/svc", "a", timeout=5).text == "A"
    server._dispatcher.drain(5)
    server.disconnect()
    acks = [f for f in stomp_broker.received if f.command == "ACK"]
    sends = [f for f in stomp_broker.received if f.command == "SEND"]
    assert len(acks) == 1
    assert stomp_broker.unacked() == 0
    assert sends[-1].time <= acks[0].time  # the reply went out first


def test_serve_refuses_a_handler_that_is_not_callable(stomp_broker, make_client) -> None:
    server = make_client().connect()
    with pytest.raises(ConfigError, match="callable"):
        server.serve("/queue/svc", "upper")  # type: ignore[arg-type]
