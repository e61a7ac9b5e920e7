"""The ``stomp-enterprise`` command line (also ``python -m stomp_enterprise``).

Subcommands: ``send``, ``listen``, ``request``, ``unsubscribe``, ``broker``, ``demo`` and
``bench``; ``--help`` on each.

Exit codes:

- 0: success
- 1: a runtime or broker error (an ERROR frame, a failed demo, a file unreadable)
- 2: bad usage (unknown option, invalid URL or value)
- 3: connection failure (no broker reachable, login refused, connection lost)
- 4: timeout (a receipt, ``listen --count`` not reached within ``--timeout``, or no
  reply to ``request`` within its ``--timeout``)
- 130: interrupted (Ctrl-C)

Errors are printed as one line on stderr; ``-v`` adds INFO logs (and the traceback of a
failure), ``-vv`` DEBUG logs with every frame (passcodes redacted).

:func:`main` runs on the calling thread and may be called in-process (tests do).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any, NoReturn, TextIO

from stomp_enterprise import __version__
from stomp_enterprise.client import Client, Message
from stomp_enterprise.errors import (
    AckError,
    BrokerError,
    ConfigError,
    ConnectionLost,
    EncodingError,
    NotConnected,
    StompConnectionError,
    StompError,
    StompTimeout,
)

__all__ = [
    "EXIT_CONNECTION",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "CliError",
    "build_parser",
    "main",
]

PROG = "stomp-enterprise"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

_PACKAGE_LOGGER = "stomp_enterprise"
_ACK_MODES = ("auto", "client", "client-individual")


class CliError(Exception):
    """A failure to report in one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


class _UsageError(Exception):
    """Raised by the parser instead of exiting (so :func:`main` can return 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


# ---------------------------------------------------------------------------- argument parsing


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME:VALUE, got {text!r}")
    return name.strip(), value


def _user(text: str) -> tuple[str, str]:
    login, sep, passcode = text.partition(":")
    if not sep or not login:
        raise argparse.ArgumentTypeError(f"expected LOGIN:PASSCODE, got {text!r}")
    return login, passcode


def _verbosity_parent(*, suppress: bool) -> _Parser:
    parent = _Parser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS if suppress else 0,
        help="more output: -v logs INFO and shows tracebacks, -vv logs DEBUG with every frame",
    )
    return parent


def _connection_parent() -> _Parser:
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument(
        "--login",
        default=os.environ.get("STOMP_LOGIN"),
        help="user name (default: $STOMP_LOGIN)",
    )
    group.add_argument(
        "--passcode",
        default=os.environ.get("STOMP_PASSCODE"),
        help="password (default: $STOMP_PASSCODE; prefer the variable: arguments show in ps)",
    )
    group.add_argument(
        "--vhost",
        help="CONNECT host header: RabbitMQ virtual host, Apollo host name (default: /)",
    )
    group.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="give up connecting after S seconds (default: 10)",
    )
    group.add_argument(
        "--ws-text",
        action="store_true",
        help="over ws:// or wss://, send WebSocket text messages (ActiveMQ Classic needs them; "
        "bodies must then be UTF-8)",
    )
    return parent


def _message_options_parent() -> _Parser:
    """The typed message options of ``send`` and ``request`` (``Client.send``'s
    ``**options``, validated and written as the connected broker expects)."""
    parent = _Parser(add_help=False)
    group = parent.add_argument_group(
        "message options (written as the connected broker expects, see docs/patterns.md)"
    )
    group.add_argument(
        "--persistent",
        dest="persistent",
        action="store_const",
        const=True,
        help="store the message durably (ActiveMQ's STOMP default is non-persistent)",
    )
    group.add_argument(
        "--non-persistent",
        dest="persistent",
        action="store_const",
        const=False,
        help="ask for a non-persistent message (the last of the two given wins)",
    )
    group.add_argument("--priority", type=int, metavar="N", help="0 (lowest) to 9")
    group.add_argument(
        "--ttl", type=float, metavar="S", help="the broker may drop it after S seconds"
    )
    group.add_argument("--correlation-id", metavar="ID", help="the correlation-id header")
    group.add_argument(
        "--type", dest="message_type", metavar="NAME", help="the message type (type header)"
    )
    return parent


_SEND_OPTIONS = ("persistent", "priority", "ttl", "correlation_id", "reply_to", "message_type")


def _send_options(args: argparse.Namespace) -> dict[str, Any]:
    """The typed message options given on the command line (validated by the client)."""
    return {
        name: getattr(args, name) for name in _SEND_OPTIONS if getattr(args, name, None) is not None
    }


def _body_arguments(parser: _Parser) -> None:
    """BODY, ``--file``, ``-H`` and ``--content-type`` (send, request)."""
    parser.add_argument(
        "body",
        metavar="BODY",
        nargs="?",
        help="the body as text; '-' (or nothing, when stdin is not a terminal) reads stdin",
    )
    parser.add_argument("--file", metavar="PATH", help="read the body from PATH (bytes as is)")
    parser.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        type=_header,
        default=[],
        metavar="NAME:VALUE",
        help="add a header (repeatable)",
    )
    parser.add_argument(
        "--content-type",
        help="content-type header (default for a text BODY: text/plain;charset=utf-8)",
    )


def _output_arguments(parser: _Parser) -> None:
    """``--json`` and ``--headers``: how a received message is printed (listen, request)."""
    parser.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line: {"destination", "message_id", "headers", "body", '
        '"encoding"} where encoding is "text" or "base64"',
    )
    parser.add_argument(
        "--headers", action="store_true", help="print the headers above each body (not JSON)"
    )


_URL_HELP = (
    "broker URL: tcp://host:61613, ssl://host:61614, or a failover URI such as "
    "'failover:(tcp://a:61613,tcp://b:61613)?randomize=false'"
)

_EPILOG = """\
exit codes: 0 ok, 1 runtime or broker error, 2 usage error, 3 connection failure,
4 timeout, 130 interrupted (Ctrl-C).
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (exposed for documentation and tests). Any thread."""
    verbose_top = _verbosity_parent(suppress=False)
    verbose_sub = _verbosity_parent(suppress=True)
    connection = _connection_parent()
    message_options = _message_options_parent()
    formatter = argparse.RawDescriptionHelpFormatter

    parser = _Parser(
        prog=PROG,
        description="A thread-safe STOMP 1.0/1.1/1.2 client: send, listen, make a request, "
        "run a test broker, see failover in action, measure throughput.",
        epilog=_EPILOG,
        formatter_class=formatter,
        parents=[verbose_top],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    send = commands.add_parser(
        "send",
        help="send a message",
        description="Send a message (or --count copies of it) to DEST.",
        epilog="examples:\n"
        "  stomp-enterprise send tcp://localhost:61613 /queue/orders 'hello'\n"
        "  echo '{\"id\": 1}' | stomp-enterprise send tcp://localhost:61613 /queue/orders - "
        "--content-type application/json\n"
        "  stomp-enterprise send tcp://localhost:61613 /queue/files --file report.pdf\n"
        "  stomp-enterprise send tcp://localhost:61613 /queue/orders 'x' --persistent "
        "--priority 7 --ttl 60\n\n" + _EPILOG,
        formatter_class=formatter,
        parents=[verbose_sub, connection, message_options],
    )
    send.add_argument("url", metavar="URL", help=_URL_HELP)
    send.add_argument("destination", metavar="DEST", help="destination, e.g. /queue/orders")
    _body_arguments(send)
    send.add_argument("--reply-to", metavar="DEST", help="the reply-to header")
    send.add_argument(
        "--receipt",
        action="store_true",
        help="wait for the broker's RECEIPT of every message (exit 4 when one does not come)",
    )
    send.add_argument(
        "--count", type=_positive_int, default=1, metavar="N", help="send N copies (default: 1)"
    )
    send.set_defaults(func=_cmd_send)

    listen = commands.add_parser(
        "listen",
        help="print the messages of a destination",
        description="Subscribe to DEST and print each message: its body (text, or base64 "
        "when it is not text), or with --json one JSON object per line.",
        epilog="examples:\n"
        "  stomp-enterprise listen tcp://localhost:61613 /queue/orders --count 1 --timeout 5\n"
        "  stomp-enterprise listen tcp://localhost:61613 /topic/prices --json | jq .body\n\n"
        + _EPILOG,
        formatter_class=formatter,
        parents=[verbose_sub, connection],
    )
    listen.add_argument("url", metavar="URL", help=_URL_HELP)
    listen.add_argument("destination", metavar="DEST", help="destination to subscribe to")
    listen.add_argument(
        "--ack",
        choices=_ACK_MODES,
        default="auto",
        help="ack mode; with client modes each printed message is acked (default: auto)",
    )
    listen.add_argument(
        "--count", type=_positive_int, metavar="N", help="stop after N messages (default: never)"
    )
    listen.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="stop after S seconds; with --count, fewer than N messages by then exits 4",
    )
    _output_arguments(listen)
    subscription = listen.add_argument_group(
        "subscription options (mapped per broker, see docs/patterns.md)"
    )
    subscription.add_argument(
        "--selector",
        metavar="EXPR",
        help="a JMS/SQL-92 selector (ActiveMQ, Artemis, Apollo; RabbitMQ has none: exit 2)",
    )
    subscription.add_argument(
        "--prefetch", type=_positive_int, metavar="N", help="at most N unacked messages"
    )
    subscription.add_argument(
        "--durable",
        metavar="NAME",
        help="a durable topic subscription NAME, kept while nobody listens (ActiveMQ and "
        "Artemis also need --client-id)",
    )
    subscription.add_argument(
        "--client-id", metavar="ID", help="the connection's client-id (for --durable)"
    )
    listen.set_defaults(func=_cmd_listen)

    request = commands.add_parser(
        "request",
        help="send a request and print its reply",
        description="Send BODY to DEST with a reply-to and a correlation-id, wait for the "
        "reply and print it (as listen prints a message). The reply destination is a "
        "temporary queue where the broker has them (see docs/request-reply.md).",
        epilog="examples:\n"
        "  stomp-enterprise request tcp://localhost:61613 /queue/prices '{\"sku\": 1}' "
        "--content-type application/json --timeout 5\n\n" + _EPILOG,
        formatter_class=formatter,
        parents=[verbose_sub, connection, message_options],
    )
    request.add_argument("url", metavar="URL", help=_URL_HELP)
    request.add_argument("destination", metavar="DEST", help="the service's destination")
    _body_arguments(request)
    request.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="wait S seconds for the reply, then exit 4 (default: 10)",
    )
    _output_arguments(request)
    request.set_defaults(func=_cmd_request)

    unsubscribe = commands.add_parser(
        "unsubscribe",
        help="delete a durable topic subscription",
        description="Delete the durable subscription NAME of topic DEST at the broker, with "
        "the messages it holds (what listen --durable NAME made).",
        epilog="examples:\n"
        "  stomp-enterprise unsubscribe tcp://localhost:61613 /topic/invoices --durable "
        "billing --client-id billing\n\n" + _EPILOG,
        formatter_class=formatter,
        parents=[verbose_sub, connection],
    )
    unsubscribe.add_argument("url", metavar="URL", help=_URL_HELP)
    unsubscribe.add_argument("destination", metavar="DEST", help="the topic")
    unsubscribe.add_argument(
        "--durable", required=True, metavar="NAME", help="the durable subscription's name"
    )
    unsubscribe.add_argument(
        "--client-id",
        metavar="ID",
        help="the client-id it was made with (ActiveMQ and Artemis find it by it)",
    )
    unsubscribe.set_defaults(func=_cmd_unsubscribe)

    broker = commands.add_parser(
        "broker",
        help="run the in-process test broker",
        description="Run stomp_enterprise's in-process STOMP 1.0/1.1/1.2 broker (the one the "
        "test fixtures use) until Ctrl-C or SIGTERM. It logs to stderr and prints its URL. "
        "Messages live in memory only: a tool for development and tests, not production.",
        epilog=_EPILOG,
        formatter_class=formatter,
        parents=[verbose_sub],
    )
    broker.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    broker.add_argument(
        "--port",
        type=_non_negative_int,
        default=61613,
        help="port; 0 picks a free one (default: 61613)",
    )
    broker.add_argument(
        "--user",
        dest="users",
        action="append",
        type=_user,
        default=[],
        metavar="LOGIN:PASSCODE",
        help="accept only these users (repeatable; default: anyone)",
    )
    broker.add_argument(
        "--websocket",
        action="store_true",
        help="speak STOMP over WebSocket (URL ws://HOST:PORT/ws) instead of plain TCP",
    )
    broker.add_argument(
        "--duration", type=_seconds, metavar="S", help="stop after S seconds (default: run on)"
    )
    broker.set_defaults(func=_cmd_broker)

    demo = commands.add_parser(
        "demo",
        help="a guided failover demo against an embedded broker",
        description="Start the embedded broker and run a producer and a consumer through a "
        "failover URI: orders sent in transactions, one poisoned order routed to an error "
        "queue, and the broker restarted mid-run (reconnect and subscription replay). Prints "
        "what happens and the counts; exits 0 only if every message arrived.",
        epilog=_EPILOG,
        formatter_class=formatter,
        parents=[verbose_sub],
    )
    demo.add_argument(
        "--messages",
        type=_positive_int,
        default=400,
        metavar="N",
        help="orders to send (default: 400)",
    )
    demo.add_argument(
        "--downtime",
        type=_seconds,
        default=1.0,
        metavar="S",
        help="how long the broker stays down (default: 1.0)",
    )
    demo.add_argument(
        "--asyncio",
        action="store_true",
        help="run the same job on the asyncio client (stomp_enterprise.aio.Client)",
    )
    demo.set_defaults(func=_cmd_demo)

    bench = commands.add_parser(
        "bench",
        help="measure throughput and latency",
        description="Produce and consume --count messages on a fresh queue, concurrently, and "
        "print msg/s for both and send-to-receive latency percentiles. URL 'embedded' starts "
        "the in-process broker.",
        epilog="produce rate: messages / time until the broker acknowledged the last send;\n"
        "consume rate: messages / time from the first send to the last receive.\n\n" + _EPILOG,
        formatter_class=formatter,
        parents=[verbose_sub, connection],
    )
    bench.add_argument("url", metavar="URL", help=_URL_HELP + "; or 'embedded'")
    bench.add_argument(
        "--count",
        type=_positive_int,
        default=10_000,
        metavar="N",
        help="messages (default: 10000)",
    )
    bench.add_argument(
        "--size", type=_non_negative_int, default=100, help="body size in bytes (default: 100)"
    )
    bench.add_argument(
        "--ack",
        choices=_ACK_MODES,
        default="auto",
        help="consumer ack mode (client: every 100th and the last; default: auto)",
    )
    bench.add_argument(
        "--timeout",
        type=_seconds,
        default=120.0,
        metavar="S",
        help="give up after S seconds (exit 4; default: 120)",
    )
    bench.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    bench.set_defaults(func=_cmd_bench)
    return parser


# ---------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (the console script exits with it).

    The main thread (the console script's entry point).

    Args:
        argv: the arguments without the program name (default: ``sys.argv[1:]``).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    verbose: int = args.verbose
    command: Callable[[argparse.Namespace], int] = args.func
    default_level = {"broker": logging.INFO, "demo": logging.CRITICAL + 1}.get(
        args.command, logging.WARNING
    )
    with _logging(verbose, default_level):
        try:
            return command(args)
        except KeyboardInterrupt:
            _error("interrupted")
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # e.g. `stomp-enterprise listen ... | head -1`
            _silence_stdout()
            return EXIT_ERROR
        except Exception as exc:
            code, message = _describe(exc)
            if verbose:
                traceback.print_exc(file=sys.stderr)
            _error(message)
            return code


def _describe(exc: BaseException) -> tuple[int, str]:
    """Exit code and one readable line for a failure."""
    if isinstance(exc, CliError):
        return exc.code, str(exc)
    if isinstance(exc, ConfigError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, StompConnectionError):
        return EXIT_CONNECTION, str(exc)
    if isinstance(exc, StompTimeout):
        return EXIT_TIMEOUT, str(exc)
    if isinstance(exc, BrokerError):
        return EXIT_ERROR, f"the broker answered with an ERROR: {exc.message}"
    if isinstance(exc, StompError):
        return EXIT_ERROR, str(exc)
    if isinstance(exc, OSError):
        return EXIT_ERROR, str(exc)
    return EXIT_ERROR, f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)"


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush does not fail."""
    try:
        fileno = sys.stdout.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _logging(verbose: int, default_level: int) -> Iterator[None]:
    """Log the package to stderr at a level chosen by ``-v``; restored afterwards."""
    level = default_level
    if verbose == 1:
        level = min(default_level, logging.INFO)
    elif verbose >= 2:
        level = logging.DEBUG
    logger = logging.getLogger(_PACKAGE_LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler.setLevel(level)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _client(args: argparse.Namespace, url: str | None = None, **options: Any) -> Client:
    timeout: float = args.connect_timeout
    if args.ws_text:
        options["websocket"] = {"text": True}
    return Client(
        url or args.url,
        login=args.login,
        passcode=args.passcode,
        vhost=args.vhost,
        timeouts={"connect": timeout, "connected": timeout},
        **options,
    )


def _connect(client: Client, timeout: float) -> None:
    """Connect; a refused login is a connection failure (exit 3) too."""
    try:
        client.connect(timeout=timeout)
    except BrokerError as exc:
        raise CliError(
            f"the broker refused the connection: {exc.message}", EXIT_CONNECTION
        ) from exc


# ---------------------------------------------------------------------------- send


def _read_body(args: argparse.Namespace) -> tuple[bytes | str, str | None]:
    content_type: str | None = args.content_type
    if args.file is not None:
        if args.body is not None:
            raise CliError("give either BODY or --file, not both", EXIT_USAGE)
        try:
            with open(args.file, "rb") as handle:
                return handle.read(), content_type
        except OSError as exc:
            raise CliError(f"cannot read --file {args.file}: {exc.strerror}", EXIT_USAGE) from exc
    body: str | None = args.body
    if body is None and sys.stdin.isatty():
        raise CliError("no body: give BODY, '-' to read stdin, or --file PATH", EXIT_USAGE)
    if body is None or body == "-":
        return sys.stdin.buffer.read(), content_type
    return body, content_type


def _cmd_send(args: argparse.Namespace) -> int:
    body, content_type = _read_body(args)
    headers = dict(args.headers)
    options = _send_options(args)
    client = _client(args)
    _connect(client, args.connect_timeout)
    try:
        for _ in range(args.count):
            client.send(
                args.destination,
                body,
                headers,
                content_type=content_type,
                receipt=args.receipt,
                **options,
            )
    finally:
        client.disconnect()
    size = len(body.encode() if isinstance(body, str) else body)
    noun = "message" if args.count == 1 else "messages"
    confirmed = " (each confirmed by a RECEIPT)" if args.receipt else ""
    print(f"sent {args.count} {noun} of {size} bytes to {args.destination}{confirmed}")
    return EXIT_OK


# ---------------------------------------------------------------------------- listen


def _message_json(message: Message) -> str:
    try:
        body, encoding = message.text, "text"
    except EncodingError:
        body, encoding = base64.b64encode(message.body).decode("ascii"), "base64"
    return json.dumps(
        {
            "destination": message.destination,
            "message_id": message.message_id,
            "headers": dict(message.headers),
            "body": body,
            "encoding": encoding,
        },
        ensure_ascii=False,
    )


def _message_text(message: Message, with_headers: bool) -> str:
    lines: list[str] = []
    if with_headers:
        lines.extend(f"{name}:{value}" for name, value in message.headers.items())
        lines.append("")
    try:
        lines.append(message.text)
    except EncodingError:
        encoded = base64.b64encode(message.body).decode("ascii")
        lines.append(f"<{len(message.body)} bytes, not text; base64: {encoded}>")
    if with_headers:
        lines.append("")
    return "\n".join(lines)


def _cmd_listen(args: argparse.Namespace) -> int:
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    client = _client(args, client_id=args.client_id)
    lost: list[BaseException] = []

    def on_disconnected(error: BaseException | None) -> None:
        if error is not None:
            lost.append(error)

    client.listeners.on("disconnected", on_disconnected)
    reconnects = client.config.failover.policy.max_reconnect_attempts != 0
    _connect(client, args.connect_timeout)
    received = 0
    try:
        try:
            sub = client.subscribe(
                args.destination,
                ack=args.ack,
                receipt=True,
                selector=args.selector,
                prefetch=args.prefetch,
                durable=args.durable,
            )
        except ConfigError as exc:
            _client_id_hint(exc, args)
            raise
        print(
            f"listening on {args.destination} at {client.broker} (STOMP {client.version}); "
            "Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        while args.count is None or received < args.count:
            wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if wait <= 0:
                break
            try:
                message = sub.get(timeout=wait)
            except queue.Empty:
                if lost and not reconnects and not client.is_connected:
                    raise ConnectionLost(f"connection lost: {lost[-1]}") from lost[-1]
                continue
            except NotConnected as exc:
                raise ConnectionLost(f"the subscription ended: {exc}") from exc
            _print_message(message, args)
            received += 1
            if args.ack != "auto":
                try:
                    message.ack()
                except AckError as exc:
                    print(f"{PROG}: warning: {exc}", file=sys.stderr, flush=True)
    finally:
        client.disconnect()
    if args.count is not None and received < args.count:
        raise CliError(
            f"timed out after {args.timeout:g}s: received {received} of {args.count} message(s)",
            EXIT_TIMEOUT,
        )
    return EXIT_OK


def _client_id_hint(exc: ConfigError, args: argparse.Namespace) -> None:
    """A durable subscription refused for want of a client id: say which option gives it."""
    if args.durable is not None and args.client_id is None:
        raise CliError(f"{exc} (here: --client-id ID)", EXIT_USAGE) from exc


def _cmd_unsubscribe(args: argparse.Namespace) -> int:
    client = _client(args, client_id=args.client_id)
    _connect(client, args.connect_timeout)
    try:
        client.unsubscribe_durable(args.destination, args.durable)
    except ConfigError as exc:
        _client_id_hint(exc, args)
        raise
    finally:
        client.disconnect()
    print(f"deleted the durable subscription {args.durable} of {args.destination}")
    return EXIT_OK


def _print_message(message: Message, args: argparse.Namespace) -> None:
    """Print a received message as ``--json`` / ``--headers`` ask (listen, request)."""
    if args.json:
        print(_message_json(message), flush=True)
    else:
        print(_message_text(message, args.headers), flush=True)


# ---------------------------------------------------------------------------- request


def _cmd_request(args: argparse.Namespace) -> int:
    body, content_type = _read_body(args)
    headers = dict(args.headers)
    options = _send_options(args)
    client = _client(args)
    _connect(client, args.connect_timeout)
    try:
        reply = client.request(
            args.destination,
            body,
            timeout=args.timeout,
            headers=headers,
            content_type=content_type,
            **options,
        )
        _print_message(reply, args)
    finally:
        client.disconnect()
    return EXIT_OK


# ---------------------------------------------------------------------------- broker


@contextlib.contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGTERM while inside (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_broker(args: argparse.Namespace) -> int:
    from stomp_enterprise.testing import Broker

    users = dict(args.users) if args.users else None
    broker = Broker(
        args.host, args.port, users=users, name="stomp-enterprise-cli", websocket=args.websocket
    )
    try:
        broker.start()
    except OSError as exc:
        raise CliError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_ERROR
        ) from exc
    stop = threading.Event()
    try:
        print(broker.url, flush=True)
        print(
            f"broker listening on {broker.url}; Ctrl-C or SIGTERM stops it",
            file=sys.stderr,
            flush=True,
        )
        deadline = None if args.duration is None else time.monotonic() + args.duration
        with _stop_on_sigterm(stop):
            while not stop.wait(0.2):
                if deadline is not None and time.monotonic() >= deadline:
                    break
    finally:
        broker.stop()
        print("broker stopped", file=sys.stderr, flush=True)
    return EXIT_OK


# ---------------------------------------------------------------------------- demo


def _cmd_demo(args: argparse.Namespace) -> int:
    from stomp_enterprise._demo import run_demo

    ok = run_demo(
        sys.stdout,
        messages=args.messages,
        downtime=args.downtime,
        client="asyncio" if args.asyncio else "threaded",
    )
    return EXIT_OK if ok else EXIT_ERROR


# ---------------------------------------------------------------------------- bench


class _Progress:
    """A one-line progress bar on a stream, redrawn at most every 0.1 s."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self._last = 0.0

    def show(self, sent: int, received: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        done = (sent + received) / (2 * self.total)
        filled = int(done * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(
            f"\r[{bar}] {done:4.0%}  sent {sent}/{self.total}  received {received}/{self.total}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(min(rank, len(ordered))) - 1]


class _BenchConsumer:
    """Records receive times and latencies (dispatcher thread)."""

    def __init__(self, count: int, ack: str) -> None:
        self.count = count
        self.ack = ack
        self.latencies: list[float] = []
        self.first: float | None = None
        self.last: float | None = None
        self.done = threading.Event()

    def __call__(self, message: Message) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.latencies.append(now - float(message.headers["x-bench-sent"]))
        received = len(self.latencies)
        if self.ack == "client-individual" or (
            self.ack == "client" and (received % 100 == 0 or received >= self.count)
        ):
            message.ack()
        if received >= self.count:
            self.done.set()


def _cmd_bench(args: argparse.Namespace) -> int:
    from stomp_enterprise.testing import Broker

    with contextlib.ExitStack() as stack:
        url: str = args.url
        if url == "embedded":
            broker = stack.enter_context(Broker(name="stomp-enterprise-bench"))
            url = broker.url
        destination = f"/queue/bench.{uuid.uuid4().hex[:12]}"
        count: int = args.count
        consumer_state = _BenchConsumer(count, args.ack)
        consumer = _client(args, url, heart_beats=(0, 0))
        producer = _client(args, url, heart_beats=(0, 0))
        _connect(consumer, args.connect_timeout)
        stack.callback(consumer.disconnect)
        _connect(producer, args.connect_timeout)
        stack.callback(producer.disconnect)
        consumer.subscribe(
            destination, consumer_state, ack=args.ack, on_error="ignore", receipt=True
        )
        body = b"x" * args.size
        progress = _Progress(count, sys.stderr, enabled=not args.no_progress)
        print(
            f"bench: {count} messages of {args.size} bytes to {destination} at {url} "
            f"(STOMP {producer.version}, ack={args.ack})",
            flush=True,
        )
        deadline = time.monotonic() + args.timeout
        started = time.perf_counter()
        for index in range(count):
            last = index == count - 1
            producer.send(
                destination,
                body,
                {"x-bench-sent": repr(time.perf_counter())},
                receipt=last,
                timeout=max(0.1, deadline - time.monotonic()) if last else None,
            )
            if index % 256 == 0:
                progress.show(index + 1, len(consumer_state.latencies))
        produced = time.perf_counter()
        while not consumer_state.done.wait(0.1):
            progress.show(count, len(consumer_state.latencies))
            if time.monotonic() >= deadline:
                progress.close()
                raise CliError(
                    f"timed out after {args.timeout:g}s: received "
                    f"{len(consumer_state.latencies)} of {count} messages",
                    EXIT_TIMEOUT,
                )
        progress.show(count, count, force=True)
        progress.close()
    produce_s = produced - started
    consume_s = (consumer_state.last or produced) - started
    latencies = sorted(v * 1000.0 for v in consumer_state.latencies)
    print(f"produce  {count / produce_s:10.0f} msg/s  ({count} in {produce_s:.3f} s)")
    print(f"consume  {count / consume_s:10.0f} msg/s  ({count} in {consume_s:.3f} s)")
    p50, p90, p99 = (_percentile(latencies, f) for f in (0.50, 0.90, 0.99))
    print(
        f"latency  p50 {p50:.2f} ms  p90 {p90:.2f} ms  p99 {p99:.2f} ms  "
        f"max {latencies[-1]:.2f} ms  (send -> handler)"
    )
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
