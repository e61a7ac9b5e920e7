"""The client refuses what it must never write (a frame beyond ``max_frame_size``, a NUL in a
header) before queueing anything, and the connection stays usable."""

from __future__ import annotations

import pytest

from stomp_enterprise.errors import ConfigError, FrameTooLarge, LocalProtocolError, RequestTimeout

LIMIT = 64 * 1024


def test_a_send_beyond_max_frame_size_is_refused_and_the_connection_stays_usable(
    make_client, stomp_broker
) -> None:
    with make_client(max_frame_size=LIMIT) as client:
        sub = client.subscribe("/queue/big")
        with pytest.raises(FrameTooLarge, match=f"max_frame_size={LIMIT}"):
            client.send("/queue/big", bytes(LIMIT + 1))
        with pytest.raises(FrameTooLarge):
            client.send("/queue/big", bytes(LIMIT + 1), {"app": "1"}, receipt=True)
        with pytest.raises(FrameTooLarge), client.transaction() as tx:
            tx.send("/queue/big", bytes(LIMIT + 1))
        client.send("/queue/big", b"after", receipt=True)
        assert sub.get(timeout=5).body == b"after"
        assert client.is_connected
        assert len(stomp_broker.received_frames("CONNECT")) == 1  # never dropped or reconnected
        sends = stomp_broker.received_frames("SEND")
        assert [f.body for f in sends] == [b"after"]  # not a byte of the big frames


def test_a_nul_in_a_header_is_refused_on_every_client_path(
    make_client, stomp_broker, client_kind
) -> None:
    with make_client() as client:
        sub = client.subscribe("/queue/nul", ack="client-individual")
        with pytest.raises(LocalProtocolError, match="'destination'"):
            client.send("/queue/nul\0x", b"a")
        with pytest.raises(LocalProtocolError, match="'app'"):
            client.send("/queue/nul", b"a", {"app": "v\0"})
        if client_kind == "threaded":  # send_async: the threaded client's alone
            with pytest.raises(LocalProtocolError, match="'app'"):
                client.send_async("/queue/nul", b"a", {"app": "v\0"})
        with pytest.raises(LocalProtocolError, match="'selector'"):
            client.subscribe("/queue/other", headers={"selector": "x\0"})
        client.send("/queue/nul", b"ok")
        message = sub.get(timeout=5)
        with pytest.raises(LocalProtocolError, match="'requeue'"):
            message.nack(headers={"requeue": "no\0"})
        with client.transaction() as tx:
            with pytest.raises(LocalProtocolError, match="'h'"):
                tx.send("/queue/nul", b"a", {"h": "\0"})
            tx.ack(message)
        client.send("/queue/nul", b"last", receipt=True)
        assert client.is_connected
        assert len(stomp_broker.received_frames("CONNECT")) == 1
        assert [f.body for f in stomp_broker.received_frames("SEND")] == [b"ok", b"last"]


@pytest.mark.parametrize("option", ["correlation_id", "reply_to"])
def test_request_refuses_the_options_it_sets_itself(make_client, stomp_broker, option) -> None:
    """request() owns correlation-id and reply-to: the typed options are refused as the
    headers are (ConfigError), before anything is written."""
    with make_client() as client:
        with pytest.raises(ConfigError, match=f"do not pass {option}="):
            client.request("/queue/aiofix-svc", b"", timeout=1, **{option: "x"})
        assert stomp_broker.received_frames("SEND") == []
        assert client.is_connected


def test_request_passes_the_other_typed_options_on(make_client, stomp_broker) -> None:
    with make_client() as client:
        with pytest.raises(RequestTimeout):  # nobody serves: only the request's SEND counts
            client.request("/queue/aiofix-svc", b"q", timeout=0.2, priority=7, persistent=True)
        [send] = stomp_broker.received_frames("SEND")
        assert send.headers["priority"] == "7"
        assert send.headers["persistent"] == "true"
        assert "correlation-id" in send.headers
