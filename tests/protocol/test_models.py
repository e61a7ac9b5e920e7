"""models: pydantic client frame models and the typed server frame views."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stomp_enterprise.errors import LocalProtocolError, RemoteProtocolError
from stomp_enterprise.protocol import commands, models
from stomp_enterprise.protocol.frames import Frame
from tests.protocol.helpers import message, parse


def test_connect_model_matches_commands() -> None:
    model = models.Connect(host="vh", login="u", passcode="p", heart_beat=(1, 2))
    assert model.to_frame() == commands.connect(
        host="vh", login="u", passcode="p", heart_beat=(1, 2)
    )
    assert "'p'" not in repr(model)  # passcode hidden


def test_connect_model_bytes_never_escaped() -> None:
    wire = models.Connect(passcode="a:b\\c").to_bytes("1.2")
    assert b"passcode:a:b\\c\n" in wire
    with pytest.raises(LocalProtocolError):
        models.Connect(passcode="a\nb").to_bytes("1.2")


def test_send_model() -> None:
    model = models.Send(destination="/q", body=b"x", headers={"k": "a:b"}, receipt="r")
    assert model.to_frame() == commands.send("/q", b"x", {"k": "a:b"}, receipt="r")
    assert (
        model.to_bytes("1.2")
        == b"SEND\ndestination:/q\nreceipt:r\nk:a\\cb\ncontent-length:1\n\nx\0"
    )
    assert (
        model.to_bytes("1.0") == b"SEND\ndestination:/q\nreceipt:r\nk:a:b\ncontent-length:1\n\nx\0"
    )


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (models.Send, {"destination": ""}),
        (models.Send, {"destination": "/q", "body": "text"}),  # strict: str is not bytes
        (models.Send, {"destination": "/q", "unknown": 1}),
        (models.Subscribe, {"destination": "/q", "id": ""}),
        (models.Subscribe, {"destination": "/q", "id": "1", "ack": "manual"}),
        (models.Begin, {"transaction": ""}),
        (models.Connect, {"versions": ("1.3",)}),
        (models.Connect, {"heart_beat": ("1", "2")}),
        (models.Unsubscribe, {"id": ""}),
    ],
)
def test_models_validate(cls: type[models.ClientFrame], kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        cls(**kwargs)


def test_models_are_frozen() -> None:
    model = models.Send(destination="/q")
    with pytest.raises(ValidationError):
        model.destination = "/other"  # type: ignore[misc]


def test_subscribe_model_per_version() -> None:
    model = models.Subscribe(destination="/q", id="1", ack="client-individual")
    assert model.to_frame("1.2").headers["ack"] == "client-individual"
    with pytest.raises(LocalProtocolError, match="client-individual"):
        model.to_frame("1.0")


def test_unsubscribe_model() -> None:
    model = models.Unsubscribe(id="1", destination="/q")
    assert model.to_frame("1.0").raw_headers == (("id", "1"), ("destination", "/q"))
    assert model.to_frame("1.2").raw_headers == (("id", "1"),)


def test_ack_and_nack_models_per_version() -> None:
    assert models.Ack(message=message("1.2")).to_frame("1.2").raw_headers == (("id", "ack-1"),)
    assert models.Ack(message=message("1.1")).to_bytes("1.1") == (
        b"ACK\nmessage-id:m-1\nsubscription:sub-1\n\n\0"
    )
    nack = models.Nack(message=message("1.2"), headers={"requeue": "false"})
    assert nack.to_frame("1.2").raw_headers == (("id", "ack-1"), ("requeue", "false"))
    with pytest.raises(LocalProtocolError, match="NACK"):
        models.Nack(message=message("1.0")).to_frame("1.0")


def test_transaction_and_disconnect_models() -> None:
    assert models.Begin(transaction="t").to_frame() == commands.begin("t")
    assert models.Commit(transaction="t", receipt="r").to_frame() == commands.commit(
        "t", receipt="r"
    )
    assert models.Abort(transaction="t").to_frame() == commands.abort("t")
    assert models.Disconnect(receipt="bye").to_bytes() == b"DISCONNECT\nreceipt:bye\n\n\0"


# ------------------------------------------------------------------ server views


def test_connected_view() -> None:
    (frame,) = parse(b"CONNECTED\nversion:1.1\nheart-beat:10,20\nserver:b/1\nsession:s\n\n\0")
    view = models.Connected.from_frame(frame)
    assert isinstance(view, models.Connected)
    assert (view.version, view.heart_beat, view.server, view.session) == (
        "1.1",
        (10, 20),
        "b/1",
        "s",
    )
    bare = models.Connected(Frame("CONNECTED"))
    assert (bare.version, bare.heart_beat, bare.server) == ("1.0", (0, 0), None)
    with pytest.raises(RemoteProtocolError, match="heart-beat"):
        _ = models.Connected(Frame("CONNECTED", [("heart-beat", "x")])).heart_beat


def test_message_view_shares_the_body() -> None:
    frame = message("1.2", body=b"payload")
    view = models.Message(frame)
    assert view.body is frame.body
    assert (view.destination, view.message_id, view.subscription, view.ack) == (
        "/queue/a",
        "m-1",
        "sub-1",
        "ack-1",
    )
    assert view.ack_id("1.2") == "ack-1"
    assert view.ack_id("1.0") == "m-1"
    assert "MESSAGE" in repr(view)


def test_receipt_and_error_views() -> None:
    assert models.Receipt(Frame("RECEIPT", [("receipt-id", "r")])).receipt_id == "r"
    with pytest.raises(RemoteProtocolError):
        _ = models.Receipt(Frame("RECEIPT")).receipt_id
    error = models.Error(Frame("ERROR", [("message", "m"), ("receipt-id", "r")], b"detail"))
    assert (error.message, error.receipt_id) == ("m: detail", "r")


@pytest.mark.parametrize("view", [models.Connected, models.Message, models.Receipt, models.Error])
def test_view_refuses_other_commands(view: type[models.Message]) -> None:
    with pytest.raises(RemoteProtocolError, match="expected a"):
        view.from_frame(Frame("SEND"))
