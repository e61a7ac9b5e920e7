"""The request/reply bookkeeping of core/requests.py, without any I/O."""

from __future__ import annotations

import contextlib
import types

import pytest

from stomp_enterprise.core.requests import (
    PendingRequests,
    Reply,
    ReplyEndpoint,
    RequestBook,
    reply_endpoint,
    reply_headers,
    reply_parts,
)
from stomp_enterprise.core.telemetry import Observer
from stomp_enterprise.errors import ConfigError, ConnectionLost, RequestTimeout, StompTimeout


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        (
            "RabbitMQ/3.10.8",
            ReplyEndpoint("/temp-queue/n1", None, "/temp-queue/n1"),
        ),
        ("ActiveMQ/5.17.2", ReplyEndpoint("/temp-queue/n1", "/temp-queue/n1", "reply-n1")),
        ("apache-apollo/1.7.1", ReplyEndpoint("/temp-queue/n1", "/temp-queue/n1", "reply-n1")),
        (
            "stomp-enterprise-testing",
            ReplyEndpoint("/temp-queue/n1", "/temp-queue/n1", "reply-n1"),
        ),
        (
            "ActiveMQ-Artemis/2.40.0 ActiveMQ Artemis Messaging Engine",
            ReplyEndpoint("/queue/stomp-reply.n1", "/queue/stomp-reply.n1", "reply-n1"),
        ),
        (None, ReplyEndpoint("/queue/stomp-reply.n1", "/queue/stomp-reply.n1", "reply-n1")),
        ("coilmq/1.0", ReplyEndpoint("/queue/stomp-reply.n1", "/queue/stomp-reply.n1", "reply-n1")),
    ],
)
def test_the_reply_destination_follows_the_broker(server, expected) -> None:
    assert reply_endpoint(server, "n1") == expected


@pytest.mark.parametrize("name", ["", "a/b", "a b", "é", "x\n"])
def test_a_reply_name_outside_the_safe_characters_is_refused(name) -> None:
    with pytest.raises(ConfigError, match="reply destination name"):
        reply_endpoint("RabbitMQ/3", name)


def test_requests_get_unique_correlation_ids_and_their_own_waiter() -> None:
    table: PendingRequests[str] = PendingRequests("c0ffee")
    owner = object()
    ids = [table.add(f"waiter-{i}", owner) for i in range(3)]
    assert ids == ["c0ffee-1", "c0ffee-2", "c0ffee-3"]
    assert len(table) == 3
    assert table.resolve({"correlation-id": "c0ffee-2"}) == "waiter-1"
    assert (table.replied, table.late, len(table)) == (1, 0, 2)


def test_a_reply_nobody_waits_for_is_late_and_counted() -> None:
    table: PendingRequests[str] = PendingRequests("p")
    cid = table.add("w", None)
    assert table.cancel(cid) is True  # the caller timed out
    assert table.resolve({"correlation-id": cid}) is None
    assert table.resolve({}) is None  # no correlation-id at all
    assert table.resolve({"correlation-id": "someone-else-7"}) is None
    assert (table.timed_out, table.late, table.replied) == (1, 3, 0)


def test_cancel_after_the_reply_says_the_reply_won() -> None:
    table: PendingRequests[str] = PendingRequests("p")
    cid = table.add("w", None)
    assert table.resolve({"correlation-id": cid}) == "w"
    assert table.cancel(cid) is False
    assert table.timed_out == 0


def test_a_lost_connection_takes_only_its_own_requests() -> None:
    table: PendingRequests[str] = PendingRequests("p")
    old, new = object(), object()
    first = table.add("a", old)
    table.add("b", new)
    third = table.add("c", old)
    assert table.lose(old) == [(first, "a"), (third, "c")]
    assert table.lost == 2
    assert len(table) == 1
    assert table.take_all() == [("p-2", "b")]
    assert (len(table), table.lost) == (0, 3)


def test_a_request_that_could_not_be_sent_is_forgotten_uncounted() -> None:
    table: PendingRequests[str] = PendingRequests("p")
    cid = table.add("w", None)
    table.forget(cid)
    assert len(table) == 0
    assert (table.timed_out, table.lost, table.late) == (0, 0, 0)


def test_an_empty_prefix_is_refused() -> None:
    with pytest.raises(ConfigError):
        PendingRequests("")


def test_request_timeout_names_the_request() -> None:
    exc = RequestTimeout("/queue/svc", "abc-3", 1.5)
    assert isinstance(exc, StompTimeout)
    assert isinstance(exc, TimeoutError)
    assert "'abc-3'" in str(exc)
    assert "'/queue/svc'" in str(exc)
    assert "1.5s" in str(exc)
    assert (exc.destination, exc.correlation_id, exc.timeout) == ("/queue/svc", "abc-3", 1.5)


def test_the_reply_goes_to_reply_to_with_the_correlation_id() -> None:
    request = {"reply-to": "/reply-queue/x", "correlation-id": "c-1", "other": "v"}
    assert reply_headers(request, {"k": "v"}) == (
        "/reply-queue/x",
        {"k": "v", "correlation-id": "c-1"},
    )
    assert reply_headers({"reply-to": "/q"}) == ("/q", {})
    assert reply_headers({"correlation-id": "c-1"}) is None
    assert reply_headers({"reply-to": ""}) is None


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (b"x", (b"x", {}, None)),
        ("é", ("é", {}, None)),
        (bytearray(b"ab"), (b"ab", {}, None)),
        (memoryview(b"cd"), (b"cd", {}, None)),
        (None, (b"", {}, None)),
        (Reply("t", {"h": "1"}, "text/x"), ("t", {"h": "1"}, "text/x")),
    ],
)
def test_what_a_responder_may_return(result, expected) -> None:
    assert reply_parts(result) == expected


@pytest.mark.parametrize("result", [1, {"a": 1}, [b"x"], object()])
def test_any_other_return_value_is_a_config_error(result) -> None:
    with pytest.raises(ConfigError, match="must return bytes, str, None or a Reply"):
        reply_parts(result)


class _Waiter:
    """A future stand-in: what RequestBook needs of a waiter."""

    def __init__(self) -> None:
        self.result: object = None
        self.error: BaseException | None = None
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: object) -> None:
        self.result, self._done = result, True

    def set_exception(self, exception: BaseException) -> None:
        self.error, self._done = exception, True


class _Reply:
    def __init__(self, correlation_id: str) -> None:
        self.headers = {"correlation-id": correlation_id}


def _book(observer=None) -> RequestBook[_Waiter]:
    return RequestBook("n1", contextlib.nullcontext(), lambda: observer)


def test_the_book_sets_up_the_reply_subscription_once() -> None:
    book = _book()
    endpoint = book.needs_setup({}, "ActiveMQ/5.17.2")
    assert endpoint == ReplyEndpoint("/temp-queue/n1", "/temp-queue/n1", "reply-n1")
    assert book.subscription_args(endpoint)[:3] == ("reply-n1", "/temp-queue/n1", "auto")
    sub = types.SimpleNamespace(id="reply-n1")
    book.ready(endpoint, sub)
    assert book.needs_setup({"reply-n1": sub}, "ActiveMQ/5.17.2") is None
    # unsubscribed (or the client reconnected after a close): made again
    assert book.needs_setup({}, "ActiveMQ/5.17.2") == endpoint
    assert book.headers({"x": "1"}, "n1-1") == {
        "x": "1",
        "correlation-id": "n1-1",
        "reply-to": "/temp-queue/n1",
    }


def test_the_book_wakes_replies_and_fails_requests_of_a_lost_connection() -> None:
    book = _book()
    old, new = object(), object()
    first, second, third = _Waiter(), _Waiter(), _Waiter()
    cid1, cid2, cid3 = book.add(first, old), book.add(second, new), book.add(third, old)
    reply = _Reply(cid2)
    assert book.replies([reply, _Reply("someone-else-1")]) == 1  # one late
    assert second.result is reply
    book.lost(old, RuntimeError("socket closed"))
    for waiter, cid in ((first, cid1), (third, cid3)):
        assert isinstance(waiter.error, ConnectionLost)
        assert cid in str(waiter.error)
        assert "may or may not have been processed" in str(waiter.error)
    late = _Waiter()
    cid4 = book.add(late, new)
    book.close()
    assert isinstance(late.error, ConnectionLost)
    assert cid4 in str(late.error)
    assert "closed" in str(late.error)


def test_the_book_counts_each_outcome_once() -> None:
    observer = Observer(contextlib.nullcontext())
    book = _book(observer)
    with book.observed("/queue/a", 1.0, None) as outcome:
        cid = book.add(_Waiter(), None)
        book.sent("/queue/a")
        outcome.reply = _Reply(cid)

    def lost_request() -> None:
        with book.observed("/queue/a", 1.0, None):
            book.add(_Waiter(), None)
            book.sent("/queue/a")
            raise ConnectionLost("gone")

    with pytest.raises(ConnectionLost):
        lost_request()
    cid = book.add(_Waiter(), None)
    assert book.timed_out(cid, "/queue/a") is True
    assert book.timed_out(cid, "/queue/a") is False  # already forgotten
    stats = observer.stats()
    assert (stats.requests, stats.replies, stats.requests_lost, stats.request_timeouts) == (
        2,
        1,
        1,
        1,
    )
    with pytest.raises(ConfigError), book.observed("/queue/a", 0, None):
        pass
