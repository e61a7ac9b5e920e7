"""Per-message cost of WebSocket framing: wsproto vs websockets' sans-I/O protocol vs ours.

Run::

    python -m benchmarks.ws_codec [--count 20000] [--size 1024] [--rounds 5]

Client side: ``send`` frames (and masks) ``count`` messages of ``size`` bytes; ``receive``
decodes the same number of unmasked server frames fed in 64 KiB reads. The libraries run
interleaved, round after round, and the medians are printed (µs per message). wsproto and
websockets are imported only here (wsproto is not a dependency: install it to compare).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from stomp_enterprise.transport.websocket import WebSocketClient, WebSocketServer


def cases(count: int, size: int) -> dict[str, Callable[[], None]]:
    """name -> one timed round."""
    payload = os.urandom(size)
    client = WebSocketClient("h", 80, secure=False)
    server = WebSocketServer()
    answer = server.receive_handshake(client.handshake_request())
    assert answer is not None
    client.receive_handshake(answer[0])
    wire = b"".join(server.encode_many([payload] * count))
    reads = [wire[i : i + 65536] for i in range(0, len(wire), 65536)]

    def ours_send() -> None:
        for _ in range(count // 64):
            client.encode_many([payload] * 64)

    def ours_receive() -> None:
        for chunk in reads:
            client.receive(chunk)

    found = {"ours send": ours_send, "ours receive": ours_receive}
    found.update(_websockets(count, payload, reads))
    found.update(_wsproto(count, payload, reads))
    return found


def _websockets(count: int, payload: bytes, reads: list[bytes]) -> dict[str, Callable[[], None]]:
    from websockets.client import ClientProtocol
    from websockets.server import ServerProtocol
    from websockets.uri import parse_uri

    client = ClientProtocol(parse_uri("ws://h/"), max_size=None)
    server = ServerProtocol(max_size=None)
    client.send_request(client.connect())
    server.receive_data(b"".join(client.data_to_send()))
    request = server.events_received()[0]
    server.send_response(server.accept(request))  # type: ignore[arg-type]
    client.receive_data(b"".join(server.data_to_send()))
    client.events_received()

    def send() -> None:
        for _ in range(count):
            client.send_binary(payload)
            client.data_to_send()

    def receive() -> None:
        for chunk in reads:
            client.receive_data(chunk)
            client.events_received()

    return {"websockets send": send, "websockets receive": receive}


def _wsproto(count: int, payload: bytes, reads: list[bytes]) -> dict[str, Callable[[], None]]:
    try:
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import AcceptConnection, BytesMessage, Request
    except ImportError:
        return {}
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="h", target="/")))
    list(server.events())
    client.receive_data(server.send(AcceptConnection()))
    list(client.events())
    message = BytesMessage(data=payload)

    def send() -> None:
        for _ in range(count):
            client.send(message)

    def receive() -> None:
        for chunk in reads:
            client.receive_data(chunk)
            list(client.events())

    return {"wsproto send": send, "wsproto receive": receive}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    timed = cases(args.count, args.size)
    results: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(args.rounds):
        for name, run in timed.items():
            began = time.perf_counter()
            run()
            results[name].append((time.perf_counter() - began) / args.count * 1e6)
    for name, values in results.items():
        print(f"{name:20} {statistics.median(values):7.2f} us/msg (min {min(values):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
