"""Which brokers the suite runs against, and what is known about each one.

Values come from ``integration/brokers/ports.env`` (defaults), overridden by the
``brokers.env`` that ``start.sh`` writes into ``$STOMP_BROKERS_DIR``, overridden by the
process environment. Quirk flags describe *broker* behaviour the scenarios assert on (which
error text a broker sends, whether it has a frame limit, what a NACK does there); the client
itself handles the protocol differences.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "ALL_BROKERS",
    "ALL_TRANSPORTS",
    "BROKERS_DIR",
    "Broker",
    "activemq_home",
    "env_values",
    "load_brokers",
    "port_open",
    "read_versions",
    "select",
    "select_transports",
]

HERE = Path(__file__).resolve().parent
BROKERS_DIR = HERE / "brokers"
ALL_BROKERS: tuple[str, ...] = ("activemq", "rabbitmq", "artemis", "apollo")

NackBehaviour = Literal["requeue", "dead-letter"]
Transport = Literal["tcp", "ws"]
ALL_TRANSPORTS: tuple[Transport, ...] = ("tcp", "ws")


@dataclass(frozen=True)
class Broker:
    """One broker under test.

    Attributes:
        name: ``activemq``, ``rabbitmq``, ``artemis`` or ``apollo``.
        host / port: the STOMP listener.
        tls_port: a ``stomp+ssl`` listener (ActiveMQ only), with ``ca_file`` to verify it.
        login / passcode / vhost: CONNECT credentials and ``host`` header.
        version: the broker's version (``versions.json`` or the container image tag).
        max_frame: the broker's configured frame/body limit in bytes; 0 = none.
        oversize_error: text the broker's ERROR carries when ``max_frame`` is exceeded
            (alternatives separated by ``|``).
        login_error: text of the broker's ERROR for a wrong passcode.
        disconnect_receipt: the broker answers DISCONNECT's receipt (RabbitMQ documents
            that it does not since 3.8.8; the client copes either way).
        nack: what a NACK does there: ``requeue`` (redelivered) or ``dead-letter`` (moved to
            the dead-letter queue, or dropped when the message is not persistent).
        nack_requeue_header: the broker honours NACK ``requeue:false`` (RabbitMQ).
        dlq: where NACKed persistent messages go, when the broker tells (ActiveMQ).
        sets_redelivered: MESSAGE frames of a redelivery carry ``redelivered:true``.
        heart_beat_floor: smallest heart-beat the broker accepts (RabbitMQ raises < 1000).
        tx_first_sends_ordered: a transaction's SENDs to a destination the connection has
            not sent to before arrive in the order sent (Apollo 1.7 connects such routes
            at COMMIT, one SEND at a time and concurrently, so they may not; later
            transactions to the same destination keep their order: docs/brokers.md).
        ws_heart_beat_flow_control: the WebSocket listener keeps a connection whose client
            sends heart-beats through publisher flow control (RabbitMQ 3.10's Web STOMP
            closes it: its heart-beat monitor crashes on ``resume``; docs/brokers.md).
        provision: ``local`` (plain processes), ``containers`` or ``none``.
        ws_port / ws_path: the STOMP-over-WebSocket listener (``None``: the broker has
            none here); Artemis serves it on its STOMP port.
        ws_text: the broker reads only text WebSocket messages (ActiveMQ Classic): clients
            are made with ``websocket={"text": True}``.
        ws_max_frame / ws_oversize_error: ``max_frame`` and ``oversize_error`` over
            WebSocket, where they differ (Artemis: ``stompMaxFramePayloadLength``, and it
            resets the connection instead of sending an ERROR).
        transport: ``tcp`` or ``ws``: which one :attr:`url` names (the suite runs every
            scenario over each transport the broker has).
    """

    name: str
    host: str
    port: int
    login: str = "guest"
    passcode: str = "guest"
    vhost: str = "/"
    version: str = "unknown"
    tls_port: int | None = None
    ca_file: str | None = None
    max_frame: int = 0
    oversize_error: str = ""
    login_error: str = ""
    disconnect_receipt: bool = True
    nack: NackBehaviour = "requeue"
    nack_requeue_header: bool = False
    dlq: str | None = None
    sets_redelivered: bool = True
    heart_beat_floor: int = 0
    tx_first_sends_ordered: bool = True
    ws_heart_beat_flow_control: bool = True
    provision: str = "local"
    extra: dict[str, str] = field(default_factory=dict)
    ws_port: int | None = None
    ws_path: str = "/"
    ws_max_frame: int | None = None
    ws_text: bool = False
    ws_oversize_error: str | None = None
    transport: Transport = "tcp"

    @property
    def url(self) -> str:
        """``tcp://host:port``, or :attr:`ws_url` when :attr:`transport` is ``ws``."""
        if self.transport == "ws" and self.ws_url is not None:
            return self.ws_url
        return f"tcp://{self.host}:{self.port}"

    @property
    def text_only(self) -> bool:
        """This connection carries STOMP in text WebSocket messages only (ActiveMQ over
        ``ws``): a body that is not UTF-8 cannot pass; the broker closes with 1007."""
        return self.transport == "ws" and self.ws_text

    @property
    def transport_options(self) -> dict[str, dict[str, bool]]:
        """Client keyword options this transport needs: ``websocket={"text": True}`` where
        :attr:`text_only`, else none."""
        return {"websocket": {"text": True}} if self.text_only else {}

    @property
    def ws_url(self) -> str | None:
        """``ws://host:ws_port/path`` when the broker serves STOMP over WebSocket."""
        return f"ws://{self.host}:{self.ws_port}{self.ws_path}" if self.ws_port else None

    def over(self, transport: Transport) -> Broker:
        """A copy whose :attr:`url` uses ``transport`` (with the frame limit and error text
        of that transport, where they differ)."""
        if transport == "ws":
            return replace(
                self,
                transport=transport,
                max_frame=self.max_frame if self.ws_max_frame is None else self.ws_max_frame,
                oversize_error=self.ws_oversize_error or self.oversize_error,
            )
        return replace(self, transport=transport)

    @property
    def tls_url(self) -> str | None:
        """``ssl://host:tls_port`` when the broker has a TLS listener."""
        return f"ssl://{self.host}:{self.tls_port}" if self.tls_port else None

    @property
    def oversize_limit(self) -> int:
        """Alias of ``max_frame`` (0: the broker enforces no limit)."""
        return self.max_frame

    def with_address(self, host: str, port: int, tls_port: int | None = None) -> Broker:
        """A copy pointing elsewhere (containers map ports)."""
        return replace(self, host=host, port=port, tls_port=tls_port)


_LINE = re.compile(r'^\s*([A-Z0-9_]+)="?\$\{[A-Z0-9_]+:-(.*)\}"?\s*(?:#.*)?$')
_PLAIN = re.compile(r"^\s*([A-Z0-9_]+)=(.*)$")


def _expand(value: str, values: dict[str, str]) -> str:
    pattern = r"\$([A-Z0-9_]+)|\$\{([A-Z0-9_]+)\}"
    return re.sub(pattern, lambda m: values.get(m[1] or m[2], ""), value)


def _parse_env_file(path: Path, values: dict[str, str]) -> None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line) or _PLAIN.match(line)
        if match:
            values[match[1]] = _expand(match[2].strip().strip('"'), values)


def env_values(environ: dict[str, str] | None = None) -> dict[str, str]:
    """ports.env defaults < $STOMP_BROKERS_DIR/brokers.env < the environment."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, str] = {}
    _parse_env_file(BROKERS_DIR / "ports.env", values)
    state_dir = environ.get("STOMP_BROKERS_DIR") or values.get(
        "STOMP_BROKERS_DIR", "/tmp/stomp-enterprise-brokers"
    )
    _parse_env_file(Path(state_dir) / "brokers.env", values)
    for key in list(values):
        if key in environ:
            values[key] = environ[key]
    values["STOMP_BROKERS_DIR"] = state_dir
    return values


def read_versions(values: dict[str, str]) -> dict[str, str]:
    """Broker versions from ``$STOMP_BROKERS_DIR/versions.json`` (written by start.sh)."""
    path = Path(values["STOMP_BROKERS_DIR"]) / "versions.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {name: str(info.get("version", "unknown")) for name, info in data.items()}


#: What a client still writing a frame sees when the broker closes the connection on it
#: (after an ERROR or a close frame it has not read yet): the write fails first
_WRITER_SEES_CLOSE = "broken pipe|connection reset"


def activemq_home(environ: dict[str, str] | None = None) -> str:
    """Where ``integration/brokers/install.sh`` unpacks ActiveMQ Classic:
    ``$STOMP_BROKERS_INSTALL_DIR/apache-activemq-$ACTIVEMQ_VERSION``."""
    v = env_values(environ)
    base = v.get("STOMP_BROKERS_INSTALL_DIR") or "/opt/stomp-enterprise-brokers"
    return f"{base}/apache-activemq-{v.get('ACTIVEMQ_VERSION') or '5.18.3'}"


def load_brokers(environ: dict[str, str] | None = None) -> dict[str, Broker]:
    """Every known broker, described from the env files."""
    v = env_values(environ)
    versions = read_versions(v)
    host = v.get("STOMP_BROKERS_HOST", "127.0.0.1")
    login = v.get("STOMP_BROKERS_LOGIN", "guest")
    passcode = v.get("STOMP_BROKERS_PASSCODE", "guest")

    def num(key: str, default: int) -> int:
        try:
            return int(v.get(key, default))
        except ValueError:
            return default

    common: dict[str, Any] = {"host": host, "login": login, "passcode": passcode}
    return {
        "activemq": Broker(
            name="activemq",
            port=num("ACTIVEMQ_STOMP_PORT", 61710),
            tls_port=num("ACTIVEMQ_STOMP_SSL_PORT", 61711),
            ca_file=v.get("ACTIVEMQ_CA_FILE"),
            version=versions.get("activemq", v.get("ACTIVEMQ_VERSION", "5.18")),
            max_frame=num("BROKER_MAX_FRAME_ACTIVEMQ", 8 * 1024 * 1024),
            # ERROR, then the socket is closed; a client still writing the body may see the
            # close (EPIPE / reset) before it reads the ERROR
            oversize_error=f"maximum frame size was exceeded|{_WRITER_SEES_CLOSE}",
            login_error="password is invalid",
            nack="dead-letter",
            dlq="/queue/ActiveMQ.DLQ",
            ws_port=num("ACTIVEMQ_WS_PORT", 61715) or None,
            ws_max_frame=num("BROKER_MAX_FRAME_ACTIVEMQ", 8 * 1024 * 1024),
            # Jetty closes the WebSocket (1009) at websocket.maxTextMessageSize, set to the
            # frame limit; the same race against a writer still sending the message
            ws_oversize_error=f"message too big|{_WRITER_SEES_CLOSE}",
            ws_text=True,
            **common,
        ),
        "rabbitmq": Broker(
            name="rabbitmq",
            port=num("RABBITMQ_STOMP_PORT", 61720),
            vhost=v.get("RABBITMQ_VHOST", "/"),
            version=versions.get("rabbitmq", "3.10"),
            max_frame=num("BROKER_MAX_FRAME_RABBITMQ", 8 * 1024 * 1024),
            oversize_error="larger than configured max size",
            login_error="Access refused",
            disconnect_receipt=True,  # 3.10.8 observed answering it; the client copes without
            nack="requeue",
            nack_requeue_header=True,
            heart_beat_floor=1000,
            ws_heart_beat_flow_control=False,
            ws_port=num("RABBITMQ_WS_PORT", 61725) or None,
            ws_path="/ws",
            # Web STOMP: the STOMP process dies on the oversize frame and the WebSocket is
            # closed (1000, "STOMP died"), its ERROR forwarded or not (seen both ways)
            ws_oversize_error="larger than configured max size|stomp died",
            **common,
        ),
        "artemis": Broker(
            name="artemis",
            port=num("ARTEMIS_STOMP_PORT", 61730),
            version=versions.get("artemis", v.get("ARTEMIS_VERSION", "2.40")),
            max_frame=num("BROKER_MAX_FRAME_ARTEMIS", 0),
            login_error="password is invalid",
            nack="dead-letter",
            ws_port=num("ARTEMIS_WS_PORT", num("ARTEMIS_STOMP_PORT", 61730)) or None,
            ws_max_frame=num("ARTEMIS_WS_MAX_FRAME", 8 * 1024 * 1024),
            ws_oversize_error="connection reset by peer",
            **common,
        ),
        "apollo": Broker(
            name="apollo",
            port=num("APOLLO_STOMP_PORT", 61740),
            version=versions.get("apollo", v.get("APOLLO_VERSION", "1.7.1")),
            max_frame=num("BROKER_MAX_FRAME_APOLLO", 8 * 1024 * 1024),
            oversize_error="maximum data length was exceeded",
            login_error="Authentication failed",
            nack="requeue",
            sets_redelivered=False,
            tx_first_sends_ordered=False,
            **common,
        ),
    }


def select(option: str | None, environ: dict[str, str] | None = None) -> list[str]:
    """Broker names from ``--brokers`` / ``STOMP_INTEGRATION_BROKERS`` (default: all four).

    Raises:
        ValueError: an unknown name.
    """
    environ = dict(os.environ if environ is None else environ)
    raw = option or environ.get("STOMP_INTEGRATION_BROKERS") or ",".join(ALL_BROKERS)
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    if names == ["all"]:
        names = list(ALL_BROKERS)
    unknown = [n for n in names if n not in ALL_BROKERS]
    if unknown:
        raise ValueError(f"unknown broker(s) {unknown}; choose from {', '.join(ALL_BROKERS)}")
    return list(dict.fromkeys(names))


def select_transports(option: str | None, environ: dict[str, str] | None = None) -> list[str]:
    """Transports from ``--transports`` / ``STOMP_INTEGRATION_TRANSPORTS`` (default both).

    Raises:
        ValueError: an unknown name.
    """
    environ = dict(os.environ if environ is None else environ)
    raw = option or environ.get("STOMP_INTEGRATION_TRANSPORTS") or ",".join(ALL_TRANSPORTS)
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_TRANSPORTS]
    if unknown:
        raise ValueError(f"unknown transport(s) {unknown}; choose from tcp, ws")
    return list(dict.fromkeys(names))


def port_open(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when a TCP connect to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
