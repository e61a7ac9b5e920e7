"""The SEND hot path of Session (cached heads) produces exactly the general path's bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stomp_enterprise.protocol import FrameParser, Session, commands


def connected(version: str, *, content_length: bool = True) -> Session:
    session = Session((version,), content_length=content_length)
    session.connect("/")
    session.receive_data(f"CONNECTED\nversion:{version}\n\n\0".encode())
    return session


destinations = st.text(min_size=1, max_size=30).filter(lambda d: "\r" not in d and "\0" not in d)


@settings(max_examples=300, deadline=None)
@given(
    version=st.sampled_from(["1.1", "1.2"]),
    destination=destinations,
    body=st.binary(max_size=64),
    content_type=st.none() | st.sampled_from(["text/plain", "application/json;charset=utf-8"]),
    receipt=st.booleans(),
    content_length=st.booleans(),
)
def test_fast_path_bytes_equal_the_general_path(
    version, destination, body, content_type, receipt, content_length
) -> None:
    session = connected(version, content_length=content_length)
    receipt_id = "rcpt-7" if receipt else None
    fast = session.send(destination, body, content_type=content_type, receipt=receipt_id)
    again = session.send(destination, body, content_type=content_type, receipt=receipt_id)
    general = commands.send(
        destination, body, content_type=content_type, receipt=receipt_id
    ).to_bytes(version, content_length=content_length)
    assert fast == general
    assert again == general  # from the cache
    frame = FrameParser(version).feed(fast)[0]
    assert frame.body == body
    assert frame.headers["destination"] == destination
    if receipt:
        assert session.pending_receipts["rcpt-7"] == "SEND"


def test_cached_heads_follow_the_negotiated_version() -> None:
    session = Session(("1.1", "1.2"))
    session.connect("/")
    session.receive_data(b"CONNECTED\nversion:1.1\n\n\0")
    data = session.send("/queue/a:b", b"x")
    assert b"destination:/queue/a\\cb\n" in data
    assert FrameParser("1.1").feed(data)[0].headers["destination"] == "/queue/a:b"


def test_fast_path_refuses_what_the_general_path_refuses() -> None:
    import pytest

    from stomp_enterprise.errors import LocalProtocolError

    session = connected("1.2")
    with pytest.raises(LocalProtocolError):
        session.send("", b"x")
    session.begin("tx-1")
    with pytest.raises(LocalProtocolError):
        session.send("/queue/x", b"x", transaction="tx-2")


@settings(max_examples=300, deadline=None)
@given(ack_id=st.text(min_size=1, max_size=40).filter(lambda v: "\0" not in v))
def test_ack_fast_path_echoes_the_ack_id_exactly(ack_id) -> None:
    from stomp_enterprise.protocol import Frame

    session = connected("1.2")
    wire = Frame(
        "MESSAGE", {"destination": "/q", "message-id": "m-1", "subscription": "s", "ack": ack_id}
    ).to_bytes("1.2")
    message = session.receive_data(wire)[0].frame
    fast = session.ack(message)
    general = commands.ack(message, "1.2").to_bytes("1.2")
    assert fast == general
    assert FrameParser("1.2").feed(fast)[0].headers["id"] == ack_id


def test_ack_of_a_frame_parsed_as_1_0_is_escaped_for_1_2() -> None:
    session = connected("1.2")
    message = FrameParser("1.0").feed(
        b"MESSAGE\ndestination:/q\nmessage-id:m\nsubscription:s\nack:a\\b\n\n\0"
    )[0]
    data = session.ack(message)
    assert FrameParser("1.2").feed(data)[0].headers["id"] == "a\\b"


texts = st.text(
    alphabet=st.one_of(st.sampled_from(":\n\r\\\0%\x02 é\ud800"), st.characters()), max_size=8
)


def outcome(call):
    """The bytes, or the error's type (with several faults, which one is named first may
    differ between the paths)."""
    from stomp_enterprise.errors import ProtocolError

    try:
        return call()
    except ProtocolError as exc:
        return type(exc)


@settings(max_examples=500, deadline=None)
@given(
    version=st.sampled_from(["1.0", "1.1", "1.2"]),
    destination=st.sampled_from(["/queue/a", "/queue/a:b", "/q/%s", "/q\x02"]) | texts,
    headers=st.dictionaries(
        st.sampled_from(["app", "x-%d", "a:b", "content-length", "receipt", "n\x02"]) | texts,
        texts | st.sampled_from(["v1", "%s", "1:2"]) | st.integers(0, 9),
        max_size=4,
    ),
    body=st.binary(max_size=16),
    content_type=st.none() | st.sampled_from(["application/json", "text/plain;charset=utf-8"]),
    transaction=st.none() | st.sampled_from(["tx-1", "tx:2", "tx-closed"]),
    receipt=st.none() | st.sampled_from(["r-1", "r:2", "", "r\0"]),
    content_length=st.booleans(),
)
def test_templated_send_equals_the_general_path(
    version, destination, headers, body, content_type, transaction, receipt, content_length
) -> None:
    """SENDs with headers and transactions (cached templates) give exactly the general path's
    bytes or its error, twice (the second from the cache), and the same bookkeeping."""
    fast, general = (connected(version, content_length=content_length) for _ in range(2))
    for session in (fast, general):
        session.begin("tx-1")
        session.begin("tx:2")

    def via_fast():
        return fast.send(
            destination, body, headers, content_type, transaction=transaction, receipt=receipt
        )

    def via_general():
        return general._send_frame(destination, body, headers, content_type, transaction, receipt)

    expected = outcome(via_general)
    assert outcome(via_fast) == expected
    assert outcome(via_fast) == expected
    assert fast.pending_receipts == general.pending_receipts


def test_templated_send_near_max_frame_size_is_checked_exactly() -> None:
    import pytest

    from stomp_enterprise.errors import FrameTooLarge

    session = Session(("1.2",), max_frame_size=200)
    session.connect("/")
    session.receive_data(b"CONNECTED\nversion:1.2\n\n\0")
    head = len(session.send("/q", b"", {"app": "1"})) - 1
    body = b"x" * (200 - head - len("content-length:nnn\n"))
    assert len(session.send("/q", body, {"app": "1"})) - 1 == 200
    with pytest.raises(FrameTooLarge):
        session.send("/q", body + b"x", {"app": "1"})


def test_sends_with_headers_or_a_transaction_are_joined_into_cached_heads(monkeypatch) -> None:
    """Headers and transactions take the cached head (one send_frame call per SEND, the
    head serialized once per destination, content type, names and transaction?/receipt?);
    values are never stale, names keep their order, and a value to escape still comes out
    escaped (through the general path)."""
    from stomp_enterprise.protocol import session as session_module

    calls: list[object] = []  # the cached head each SEND was joined into
    real = session_module.send_frame

    def recording(head, *args):
        calls.append(head)
        return real(head, *args)

    monkeypatch.setattr(session_module, "send_frame", recording)
    session = connected("1.2")
    session.begin("tx-1")
    first = session.send("/q", b"1", {"a": "1", "b": "2"}, "application/json")
    second = session.send("/q", b"2", {"a": "3", "b": "4"}, "application/json")
    swapped = session.send("/q", b"3", {"b": "5", "a": "6"}, "application/json")
    in_tx = session.send("/q", b"4", {"a": "7", "b": "8"}, transaction="tx-1")
    escaped = session.send("/q", b"5", {"a": "x:y\\z", "b": "9"}, "application/json")
    assert len(calls) == 5
    assert calls[0] is calls[1] is calls[4]  # one cached head for the same names
    assert calls[2] is not calls[0]
    assert calls[3] is not calls[0]
    parse = FrameParser("1.2").feed
    for data, pairs in (
        (first, [("a", "1"), ("b", "2")]),
        (second, [("a", "3"), ("b", "4")]),
        (swapped, [("b", "5"), ("a", "6")]),
        (in_tx, [("a", "7"), ("b", "8")]),
        (escaped, [("a", "x:y\\z"), ("b", "9")]),
    ):
        frame = parse(data)[0]
        assert [(k, v) for k, v in frame.raw_headers if k in ("a", "b")] == pairs
    assert parse(in_tx)[0].headers["transaction"] == "tx-1"
    assert b"a:x\\cy\\\\z\n" in escaped
    assert parse(first)[0].headers["content-type"] == "application/json"


def test_cached_heads_of_a_closed_transaction_are_refused() -> None:
    import pytest

    from stomp_enterprise.errors import LocalProtocolError

    session = connected("1.2")
    session.begin("tx-1")
    session.send("/q", b"x", {"a": "1"}, transaction="tx-1")
    session.commit("tx-1")
    with pytest.raises(LocalProtocolError, match="not open"):
        session.send("/q", b"x", {"a": "1"}, transaction="tx-1")
    with pytest.raises(LocalProtocolError, match="not open"):
        session.send("/q", b"x", transaction="tx-1")


def test_header_values_a_version_refuses_still_raise_through_the_cache() -> None:
    import pytest

    from stomp_enterprise.errors import LocalProtocolError

    old = connected("1.0")
    assert old.send("/q", b"x", {"a": "1"})  # caches the 1.0 head
    with pytest.raises(LocalProtocolError):
        old.send("/q", b"x", {"a": "line\nfeed"})  # 1.0 cannot say it
    assert FrameParser("1.0").feed(old.send("/q", b"x", {"a": "b:c"}))[0].headers["a"] == "b:c"
    new = connected("1.2")
    assert new.send("/q", b"x", {"a": "1"})
    for bad in ("nul\0", "\ud800"):
        with pytest.raises(LocalProtocolError):
            new.send("/q", b"x", {"a": bad})
    for destination, content_type, headers in (
        (123, None, {"a": "1"}),
        ("/q", 5, {"a": "1"}),
        ("/q", None, {1: "1"}),
        ("", None, {"a": "1"}),
    ):  # refused by the general path's checks when the head is made, never an assert
        with pytest.raises(LocalProtocolError):
            new.send(destination, b"x", headers, content_type)


ids = st.text(min_size=1, max_size=24)


@settings(max_examples=400, deadline=None)
@given(
    version=st.sampled_from(["1.0", "1.1", "1.2"]),
    transaction=ids,
    receipt=st.none() | ids,
    end=st.sampled_from(["COMMIT", "ABORT"]),
)
def test_transaction_control_frames_equal_the_general_path(
    version, transaction, receipt, end
) -> None:
    """BEGIN, COMMIT and ABORT joined directly (plain ids) are byte for byte the general
    path's frames; any other id goes the general path, which refuses what it refuses, and
    leaves the transaction as it was."""
    import pytest

    from stomp_enterprise.errors import LocalProtocolError

    session = connected(version)
    build = {"COMMIT": commands.commit, "ABORT": commands.abort}[end]

    def general(frame_builder, **kwargs) -> bytes | type[LocalProtocolError]:
        try:
            return frame_builder(transaction, receipt=receipt).to_bytes(version, **kwargs)
        except (LocalProtocolError, UnicodeEncodeError):
            return LocalProtocolError

    expected = general(commands.begin)
    if expected is LocalProtocolError:
        with pytest.raises(LocalProtocolError):
            session.begin(transaction, receipt=receipt)
        assert transaction not in session.transactions
        return
    assert session.begin(transaction, receipt=receipt) == expected
    assert transaction in session.transactions
    if receipt is not None:
        assert session.pending_receipts.pop(receipt) == "BEGIN"
    ended = (session.commit if end == "COMMIT" else session.abort)(transaction, receipt=receipt)
    assert ended == general(build)
    assert transaction not in session.transactions
    if receipt is not None:
        assert session.pending_receipts[receipt] == end


def test_transaction_control_fast_path_bytes_and_refusals(monkeypatch) -> None:
    """The session's own ids take the direct path (no Frame is built); a closed
    transaction, or one not begun, is refused whatever the path."""
    import pytest

    from stomp_enterprise.errors import LocalProtocolError
    from stomp_enterprise.protocol import session as session_module

    session = connected("1.2")
    with monkeypatch.context() as patched:
        for name in ("begin", "commit", "abort"):
            patched.setattr(session_module.commands, name, None)  # the general path fails
        assert session.begin("tx-1") == b"BEGIN\ntransaction:tx-1\n\n\0"
        assert session.commit("tx-1", receipt="rcpt-2") == (
            b"COMMIT\ntransaction:tx-1\nreceipt:rcpt-2\n\n\0"
        )
    assert session.pending_receipts["rcpt-2"] == "COMMIT"
    with pytest.raises(LocalProtocolError, match="not open"):
        session.commit("tx-1")
    with pytest.raises(LocalProtocolError, match="not open"):
        session.abort("tx-9")
    assert session.begin("tx-3", receipt="r:1") == b"BEGIN\ntransaction:tx-3\nreceipt:r\\c1\n\n\0"
    with pytest.raises(LocalProtocolError, match="already open"):
        session.begin("tx-3")
    assert session.abort("tx-3") == b"ABORT\ntransaction:tx-3\n\n\0"


def test_fast_paths_refuse_unencodable_values_with_the_typed_error() -> None:
    """A lone surrogate in a receipt, a transaction id or a destination is refused with
    LocalProtocolError on every fast path (SEND cached heads, BEGIN/COMMIT), never with a
    raw UnicodeEncodeError, and leaves nothing pending."""
    import pytest

    from stomp_enterprise.errors import LocalProtocolError

    session = connected("1.2")
    session.send("/queue/x", b"warm", receipt="r-1")  # the cached head exists
    for call in (
        lambda: session.send("/queue/x", b"x", receipt="r-\ud800"),
        lambda: session.send("/queue/\ud800", b"x"),
        lambda: session.begin("tx-\ud800"),
        lambda: session.begin("tx-1", receipt="r-\ud800"),
    ):
        with pytest.raises(LocalProtocolError, match="cannot encode"):
            call()
    assert "r-\ud800" not in session.pending_receipts
    assert "tx-\ud800" not in session.transactions
    session.begin("tx-2")
    with pytest.raises(LocalProtocolError, match="cannot encode"):
        session.commit("tx-2", receipt="r-\ud800")
    assert (
        session.commit("tx-2", receipt="r-é")
        == "COMMIT\ntransaction:tx-2\nreceipt:r-é\n\n\0".encode()
    )
