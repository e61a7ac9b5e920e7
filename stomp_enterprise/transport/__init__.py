"""Sockets and TLS: the only place that turns ``OSError``/``ssl.SSLError`` into
:mod:`stomp_enterprise.errors`."""

from __future__ import annotations

from stomp_enterprise.transport.socket import SocketTransport, map_socket_errors, open_transport
from stomp_enterprise.transport.tls import TlsOptions, make_ssl_context
from stomp_enterprise.transport.wsconfig import WebSocketOptions

__all__ = [
    "SocketTransport",
    "TlsOptions",
    "WebSocketOptions",
    "make_ssl_context",
    "map_socket_errors",
    "open_transport",
]
