"""Stateless builders for every client frame and readers for server frames, per version.

Nothing here keeps state or touches I/O: :class:`~stomp_enterprise.protocol.session.Session`
and the broker in :mod:`stomp_enterprise.testing` both build on these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, Literal

from stomp_enterprise.errors import LocalProtocolError, RemoteProtocolError
from stomp_enterprise.protocol.constants import VERSIONS
from stomp_enterprise.protocol.frames import Frame, HeaderInput

__all__ = [
    "AckMode",
    "abort",
    "ack",
    "ack_id",
    "begin",
    "commit",
    "connect",
    "connected",
    "disconnect",
    "error_message",
    "heart_beat",
    "negotiate_heart_beat",
    "negotiate_version",
    "nack",
    "receipt_id",
    "send",
    "subscribe",
    "unsubscribe",
]

AckMode = Literal["auto", "client", "client-individual"]
ACK_MODES: Final = ("auto", "client", "client-individual")

#: Headers a session tracks (open transactions, pending receipts): only the keyword arguments
#: may set them, so a user header cannot slip past that bookkeeping.
_TRACKED: Final = ("transaction", "receipt")


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise LocalProtocolError(f"unknown STOMP version {version!r}; expected one of {VERSIONS}")


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise LocalProtocolError(f"{name} must be a non-empty str, got {value!r}")
    return value


def _extend(
    pairs: list[tuple[str, str]], headers: HeaderInput | None, reserved: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """Append user headers; a user header may not silently override one we set."""
    if headers:
        taken = {name for name, _ in pairs} | set(reserved)
        for name, value in Frame("SEND", headers).raw_headers:
            if name in taken:
                raise LocalProtocolError(
                    f"header {name!r} is set by the library; pass it as an argument instead"
                )
            pairs.append((name, value))
    return pairs


def _with_receipt(pairs: list[tuple[str, str]], receipt: str | None) -> list[tuple[str, str]]:
    if receipt is not None:
        pairs.append(("receipt", _text("receipt", receipt)))
    return pairs


def _heart_beat_value(heart_beat: tuple[int, int]) -> str:
    try:
        cx, cy = heart_beat
    except (TypeError, ValueError):
        raise LocalProtocolError(f"heart_beat must be (cx, cy), got {heart_beat!r}") from None
    for value in (cx, cy):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise LocalProtocolError(f"heart-beat values must be ints >= 0, got {heart_beat!r}")
    return f"{cx},{cy}"


# ---------------------------------------------------------------- client frames


def connect(
    *,
    host: str | None,
    versions: Sequence[str] = VERSIONS,
    login: str | None = None,
    passcode: str | None = None,
    heart_beat: tuple[int, int] = (0, 0),
    headers: HeaderInput | None = None,
    command: Literal["CONNECT", "STOMP"] = "CONNECT",
) -> Frame:
    """CONNECT (or STOMP) offering ``versions``.

    ``accept-version`` and ``host`` are sent when a version above 1.0 is offered (1.1+ require
    them); ``heart-beat`` always carries both numbers (RabbitMQ insists).
    Any thread (a pure function).
    """
    if command not in ("CONNECT", "STOMP"):
        raise LocalProtocolError(f"command must be CONNECT or STOMP, got {command!r}")
    if not versions:
        raise LocalProtocolError("offer at least one STOMP version")
    for version in versions:
        _check_version(version)
    pairs: list[tuple[str, str]] = []
    modern = any(v != "1.0" for v in versions)
    if modern:
        ordered = sorted(set(versions), key=VERSIONS.index, reverse=True)
        pairs.append(("accept-version", ",".join(ordered)))
        pairs.append(("host", host if host else "/"))
    elif host:
        pairs.append(("host", host))
    if login is not None:
        pairs.append(("login", login))
    if passcode is not None:
        pairs.append(("passcode", passcode))
    if modern or heart_beat != (0, 0):
        pairs.append(("heart-beat", _heart_beat_value(heart_beat)))
    return Frame(command, _extend(pairs, headers))


def send(
    destination: str,
    body: bytes = b"",
    headers: HeaderInput | None = None,
    *,
    content_type: str | None = None,
    transaction: str | None = None,
    receipt: str | None = None,
) -> Frame:
    """SEND ``body`` to ``destination``. Any thread (a pure function)."""
    pairs = [("destination", _text("destination", destination))]
    if content_type is not None:
        pairs.append(("content-type", _text("content_type", content_type)))
    if transaction is not None:
        pairs.append(("transaction", _text("transaction", transaction)))
    _with_receipt(pairs, receipt)
    if type(body) is not bytes:
        body = Frame("SEND", (), body).body  # validates: bytes-like only
    # every pair is a checked str pair (_extend validates user headers): no second pass
    return Frame._wire("SEND", _extend(pairs, headers, _TRACKED), body)


def subscribe(
    destination: str,
    id: str,  # noqa: A002 - the STOMP header name
    *,
    ack: str = "auto",
    headers: HeaderInput | None = None,
    receipt: str | None = None,
    version: str = "1.2",
) -> Frame:
    """SUBSCRIBE with subscription ``id`` (sent in every version; 1.1+ require it).

    Any thread (a pure function).
    """
    _check_version(version)
    if ack not in ACK_MODES:
        raise LocalProtocolError(f"ack must be one of {ACK_MODES}, got {ack!r}")
    if ack == "client-individual" and version == "1.0":
        raise LocalProtocolError("ack mode 'client-individual' needs STOMP 1.1 or later")
    pairs = [("destination", _text("destination", destination)), ("id", _text("id", id))]
    if ack != "auto":
        pairs.append(("ack", ack))
    _with_receipt(pairs, receipt)
    return Frame("SUBSCRIBE", _extend(pairs, headers, ("ack", "receipt")))


def unsubscribe(
    id: str,  # noqa: A002 - the STOMP header name
    *,
    destination: str | None = None,
    receipt: str | None = None,
    version: str = "1.2",
    headers: HeaderInput | None = None,
) -> Frame:
    """UNSUBSCRIBE subscription ``id`` (1.0 brokers may want ``destination`` too);
    ``headers`` carries broker extras (removing a durable subscription).

    Any thread (a pure function).
    """
    _check_version(version)
    pairs = [("id", _text("id", id))]
    if destination is not None and version == "1.0":
        pairs.append(("destination", destination))
    _with_receipt(pairs, receipt)
    return Frame("UNSUBSCRIBE", _extend(pairs, headers, ("receipt",)) if headers else pairs)


def _ack_headers(message: Frame, version: str, command: str) -> list[tuple[str, str]]:
    if version == "1.2" and message.command == "MESSAGE":  # the hot path
        value = message.get("ack")
        if value is not None:
            return [("id", value)]
    _check_version(version)
    if message.command != "MESSAGE":
        raise LocalProtocolError(f"{command} needs a MESSAGE frame, got {message.command}")
    if version == "1.2":
        value = message.get("ack")
        if value is None:
            raise LocalProtocolError(
                f"cannot {command} this message: it has no 'ack' header (its subscription "
                "is auto-ack, or the broker is not STOMP 1.2)"
            )
        return [("id", value)]
    message_id = message.get("message-id")
    if message_id is None:
        raise LocalProtocolError(f"cannot {command}: the MESSAGE has no message-id header")
    pairs = [("message-id", message_id)]
    subscription = message.get("subscription")
    if version == "1.1":
        if subscription is None:
            raise LocalProtocolError(f"cannot {command}: the MESSAGE has no subscription header")
        pairs.append(("subscription", subscription))
    return pairs


def ack(
    message: Frame,
    version: str,
    *,
    transaction: str | None = None,
    receipt: str | None = None,
) -> Frame:
    """ACK ``message``: ``message-id`` (1.0), plus ``subscription`` (1.1), or ``id`` = the
    MESSAGE's ``ack`` header (1.2). Any thread (a pure function)."""
    pairs = _ack_headers(message, version, "ACK")
    if transaction is not None:
        pairs.append(("transaction", _text("transaction", transaction)))
    return Frame._wire("ACK", _with_receipt(pairs, receipt), b"")


def nack(
    message: Frame,
    version: str,
    *,
    transaction: str | None = None,
    receipt: str | None = None,
    headers: HeaderInput | None = None,
) -> Frame:
    """NACK ``message`` (STOMP 1.1+). ``headers`` carries broker extras such as RabbitMQ's
    ``requeue``. Any thread (a pure function)."""
    if version == "1.0":
        raise LocalProtocolError("NACK does not exist in STOMP 1.0")
    pairs = _ack_headers(message, version, "NACK")
    if transaction is not None:
        pairs.append(("transaction", _text("transaction", transaction)))
    return Frame("NACK", _extend(_with_receipt(pairs, receipt), headers, _TRACKED))


def _tx(command: str, transaction: str, receipt: str | None) -> Frame:
    return Frame(
        command, _with_receipt([("transaction", _text("transaction", transaction))], receipt)
    )


def begin(transaction: str, *, receipt: str | None = None) -> Frame:
    """BEGIN ``transaction``. Any thread (a pure function)."""
    return _tx("BEGIN", transaction, receipt)


def commit(transaction: str, *, receipt: str | None = None) -> Frame:
    """COMMIT ``transaction``. Any thread (a pure function)."""
    return _tx("COMMIT", transaction, receipt)


def abort(transaction: str, *, receipt: str | None = None) -> Frame:
    """ABORT ``transaction``. Any thread (a pure function)."""
    return _tx("ABORT", transaction, receipt)


def disconnect(*, receipt: str | None = None) -> Frame:
    """DISCONNECT, optionally asking for a receipt. Any thread (a pure function)."""
    return Frame("DISCONNECT", _with_receipt([], receipt))


# ---------------------------------------------------------------- server frames (for brokers)


def connected(
    version: str,
    *,
    heart_beat: tuple[int, int] = (0, 0),
    session: str | None = None,
    server: str | None = None,
) -> Frame:
    """CONNECTED, as a broker answers (used by the in-process broker and tests).

    Any thread (a pure function).
    """
    _check_version(version)
    pairs = [("version", version)]
    if version != "1.0" or heart_beat != (0, 0):
        pairs.append(("heart-beat", _heart_beat_value(heart_beat)))
    if session is not None:
        pairs.append(("session", session))
    if server is not None:
        pairs.append(("server", server))
    return Frame("CONNECTED", pairs)


# ---------------------------------------------------------------- reading server frames


def negotiate_version(frame: Frame, offered: Sequence[str]) -> str:
    """The version a CONNECTED frame settles on (``"1.0"`` when it names none).

    Any thread (a pure function).

    Raises:
        RemoteProtocolError: the broker chose a version that was not offered.
    """
    if frame.command != "CONNECTED":
        raise RemoteProtocolError(f"expected CONNECTED, got {frame.command}")
    version = frame.get("version", "1.0") or "1.0"
    if version not in offered:
        raise RemoteProtocolError(
            f"broker chose STOMP {version!r}, which was not offered ({', '.join(offered)})"
        )
    return version


def heart_beat(frame: Frame) -> tuple[int, int]:
    """The ``heart-beat`` header of a CONNECT or CONNECTED frame as ``(x, y)`` ms (0,0 if absent).

    Any thread (a pure function).

    Raises:
        RemoteProtocolError: a malformed value.
    """
    value = frame.get("heart-beat")
    if value is None:
        return (0, 0)
    parts = value.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise RemoteProtocolError(f"malformed heart-beat header {value!r}")
    return (int(parts[0]), int(parts[1]))


def negotiate_heart_beat(client: tuple[int, int], server: tuple[int, int]) -> tuple[int, int]:
    """``(send_every_ms, expect_within_ms)`` from the client's CONNECT ``(cx, cy)`` and the
    server's CONNECTED ``(sx, sy)``: send every MAX(cx, sy), expect data every MAX(sx, cy);
    0 means none (when either side's value is 0). Any thread (a pure function)."""
    cx, cy = client
    sx, sy = server
    send_every = 0 if cx == 0 or sy == 0 else max(cx, sy)
    expect = 0 if sx == 0 or cy == 0 else max(sx, cy)
    return (send_every, expect)


def ack_id(message: Frame, version: str) -> str:
    """The id that acknowledges ``message`` in ``version``: its ``ack`` header in 1.2, else its
    ``message-id``. Any thread (a pure function)."""
    return _ack_headers(message, version, "ACK")[0][1]


def error_message(frame: Frame) -> str:
    """A readable summary of an ERROR frame: its ``message`` header, else its body's text.

    Any thread (a pure function).
    """
    message = frame.get("message")
    body = frame.body.decode("utf-8", "replace").strip()
    if message and body and body != message:
        return f"{message}: {body[:500]}"
    return message or body[:500] or "ERROR frame without a message"


def receipt_id(frame: Frame) -> str:
    """The ``receipt-id`` of a RECEIPT frame (or of an ERROR answering a receipted frame).

    Any thread (a pure function).
    """
    value = frame.get("receipt-id")
    if value is None:
        raise RemoteProtocolError(f"{frame.command} frame without a receipt-id header")
    return value
