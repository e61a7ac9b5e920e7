"""Small helpers shared by the integration scenarios (bounded waits, raw probes)."""

from __future__ import annotations

import queue
import socket
import time
from collections.abc import Callable

from integration.settings import Broker
from stomp_enterprise import Message, Subscription

__all__ = ["drain", "expect_nothing", "raw_connected_heart_beat", "wait_until"]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def expect_nothing(sub: Subscription, within: float = 1.5) -> None:
    """Assert that ``sub`` receives nothing for ``within`` seconds."""
    try:
        message = sub.get(timeout=within)
    except queue.Empty:
        return
    raise AssertionError(f"unexpected message {message!r}: {message.body[:80]!r}")


def drain(sub: Subscription, count: int, timeout: float = 15.0) -> list[Message]:
    """Exactly ``count`` messages from ``sub`` (bounded overall)."""
    deadline = time.monotonic() + timeout
    got: list[Message] = []
    while len(got) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"got {len(got)} of {count} messages within {timeout:g}s")
        try:
            got.append(sub.get(timeout=remaining))
        except queue.Empty:
            continue
    return got


def raw_connected_heart_beat(broker: Broker, asked: tuple[int, int]) -> tuple[int, int]:
    """What the broker answers in CONNECTED's ``heart-beat`` to a plain-socket CONNECT asking
    ``asked`` (independent of the client under test). ``(0, 0)`` when absent."""
    connect = (
        "CONNECT\naccept-version:1.2\n"
        f"host:{broker.vhost}\nlogin:{broker.login}\npasscode:{broker.passcode}\n"
        f"heart-beat:{asked[0]},{asked[1]}\n\n\x00"
    ).encode()
    with socket.create_connection((broker.host, broker.port), timeout=10) as sock:
        sock.sendall(connect)
        data = b""
        deadline = time.monotonic() + 10
        while b"\x00" not in data:
            if time.monotonic() > deadline:
                raise AssertionError("no CONNECTED from a raw CONNECT within 10s")
            chunk = sock.recv(4096)
            if not chunk:
                raise AssertionError(f"connection closed during raw CONNECT: {data!r}")
            data += chunk
        sock.sendall(b"DISCONNECT\n\n\x00")
    head = data.lstrip(b"\r\n").split(b"\x00", 1)[0].decode()
    lines = head.split("\n\n", 1)[0].split("\n")
    assert lines[0] == "CONNECTED", head
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name == "heart-beat":
            sx, sy = value.split(",")
            return (int(sx), int(sy))
    return (0, 0)
