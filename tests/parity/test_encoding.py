"""Item 13: charset problems raise the library's own EncodingError (a ValueError), naming the
charset, before anything is queued; received bodies likewise."""

from __future__ import annotations

import pytest

from stomp_enterprise import EncodingError


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("hello", "text/plain;charset=bogus"), ("h€llo", "text/plain;charset=ascii")],
)
@pytest.mark.parametrize("receipt", [False, True])
def test_client_send_refuses_before_anything_is_queued(
    client_kind, make_client, stomp_broker, body, content_type, receipt
) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/enc")
        with pytest.raises(EncodingError):
            client.send("/queue/enc", body, content_type=content_type, receipt=receipt)
        if client_kind == "threaded":  # send_async: the threaded client's alone
            with pytest.raises(EncodingError):
                client.send_async("/queue/enc", body, content_type=content_type)
        with client.transaction() as tx, pytest.raises(EncodingError):
            tx.send("/queue/enc", body, content_type=content_type)
        client.send("/queue/enc", b"after", receipt=True)
        assert sub.get(timeout=5).body == b"after"
    assert [m.body for m in stomp_broker.sent_messages("/queue/enc")] == [b"after"]


def test_received_body_with_bogus_charset_raises_encoding_error(make_client) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/enc-in")
        client.send("/queue/enc-in", b"caf\xe9", content_type="text/plain;charset=bogus")
        client.send("/queue/enc-in", b"caf\xe9", content_type="text/plain;charset=utf-8")
        first, second = sub.get(timeout=5), sub.get(timeout=5)
        with pytest.raises(EncodingError, match="'bogus'"):
            _ = first.text
        with pytest.raises(EncodingError, match="'utf-8'"):
            _ = second.text
