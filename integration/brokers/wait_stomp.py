#!/usr/bin/env python3
"""Wait until a STOMP broker answers CONNECT with CONNECTED (pure stdlib).

usage: wait_stomp.py HOST PORT [--ssl CAFILE] [--server-hostname NAME] [--host VHOST]
                     [--login U --passcode P] [--version 1.2] [--timeout S] [--expect-error]

Retries (connection refused, reset, timeouts, ERROR frames) until --timeout seconds pass.
Exit 0 when CONNECTED arrives (prints its headers with -v); exit 1 on timeout.
With --expect-error, a single attempt must be answered by an ERROR frame (exit 0), and
CONNECTED is a failure (exit 1); useful to check that a wrong passcode is refused.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import time


def build_connect(args: argparse.Namespace) -> bytes:
    headers = [("accept-version", args.version), ("host", args.host), ("heart-beat", "0,0")]
    if args.login is not None:
        headers.append(("login", args.login))
    if args.passcode is not None:
        headers.append(("passcode", args.passcode))
    # CONNECT headers are never escaped
    return ("CONNECT\n" + "".join(f"{k}:{v}\n" for k, v in headers) + "\n\x00").encode()


def read_frame(sock: socket.socket, deadline: float) -> tuple[str, dict[str, str], bytes]:
    buf = b""
    while True:
        # skip heart-beat EOLs before the command
        stripped = buf.lstrip(b"\r\n")
        end = stripped.find(b"\x00")
        if end >= 0:
            frame = stripped[:end].decode("utf-8", "replace").replace("\r\n", "\n")
            head, _, body = frame.partition("\n\n")
            lines = head.split("\n")
            hdrs: dict[str, str] = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                hdrs.setdefault(k, v)
            return lines[0], hdrs, body.encode()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete frame")
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(
                "connection closed before a frame" + (f": {buf[:200]!r}" if buf else "")
            )
        buf += chunk


def attempt(args: argparse.Namespace, ctx: ssl.SSLContext | None, per_try: float):
    deadline = time.monotonic() + per_try
    raw = socket.create_connection((args.hostaddr, args.port), timeout=per_try)
    try:
        sock = (
            ctx.wrap_socket(raw, server_hostname=args.server_hostname or args.hostaddr)
            if ctx
            else raw
        )
        sock.sendall(build_connect(args))
        cmd, hdrs, body = read_frame(sock, deadline)
        try:
            if cmd == "CONNECTED":
                sock.sendall(b"DISCONNECT\n\n\x00")
        except OSError:
            pass
        return cmd, hdrs, body
    finally:
        raw.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("hostaddr", metavar="HOST")
    p.add_argument("port", metavar="PORT", type=int)
    p.add_argument("--ssl", metavar="CAFILE", help="use TLS, verifying the server against CAFILE")
    p.add_argument("--server-hostname", help="TLS SNI/verification name (default: HOST)")
    p.add_argument("--host", default="/", help="STOMP host header (vhost), default '/'")
    p.add_argument("--login")
    p.add_argument("--passcode")
    p.add_argument("--version", default="1.2", help="accept-version header (default 1.2)")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--expect-error", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)

    ctx = None
    if args.ssl:
        ctx = ssl.create_default_context(cafile=args.ssl)

    end = time.monotonic() + args.timeout
    last = "nothing tried"
    while True:
        per_try = max(0.5, min(10.0, end - time.monotonic()))
        try:
            cmd, hdrs, body = attempt(args, ctx, per_try)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            last = f"{type(exc).__name__}: {exc}"
            if args.expect_error and isinstance(exc, ssl.SSLError):
                break
        else:
            if args.expect_error:
                if cmd == "ERROR":
                    print(f"ERROR as expected: message={hdrs.get('message', '')!r}")
                    if args.verbose:
                        print(hdrs, body[:500].decode("utf-8", "replace"))
                    return 0
                if cmd == "CONNECTED":
                    print(f"expected ERROR, got CONNECTED {hdrs}", file=sys.stderr)
                    return 1
            elif cmd == "CONNECTED":
                if args.verbose:
                    print(f"CONNECTED {hdrs}")
                return 0
            last = f"{cmd} {hdrs} {body[:300]!r}"
            if args.expect_error:
                break
        if time.monotonic() >= end:
            break
        time.sleep(0.25)
    wanted = "ERROR" if args.expect_error else "CONNECTED"
    print(
        f"wait_stomp: {args.hostaddr}:{args.port}: no {wanted} within {args.timeout:g}s; "
        f"last: {last}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
