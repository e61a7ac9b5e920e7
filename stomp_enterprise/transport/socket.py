"""A connected TCP or TLS socket with one write lock, bounded waits, and error mapping.

:func:`map_socket_errors` is the one place where ``OSError`` and ``ssl.SSLError`` become
:mod:`stomp_enterprise.errors` exceptions.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from stomp_enterprise.errors import (
    ConnectFailed,
    ConnectionLost,
    ConnectTimeout,
    StompConnectionError,
)
from stomp_enterprise.protocol.failover import BrokerAddress

__all__ = ["SocketTransport", "map_socket_errors", "open_transport"]

log = logging.getLogger(__name__)

RECV_SIZE = 256 * 1024


@contextmanager
def map_socket_errors(what: str, *, connecting: bool = False) -> Iterator[None]:
    """Turn socket and TLS errors raised inside the block into stomp_enterprise errors.

    Args:
        what: words for the message, e.g. ``"connect to tcp://h:61613"``.
        connecting: errors mean the connection could not be made (``ConnectFailed`` /
            ``ConnectTimeout``) rather than lost (``ConnectionLost``).
    """
    try:
        yield
    except StompConnectionError:
        raise
    except TimeoutError as exc:  # socket.timeout is TimeoutError since 3.10
        if connecting:
            raise ConnectTimeout(f"{what}: timed out") from exc
        raise ConnectionLost(f"{what}: timed out") from exc
    except ssl.SSLCertVerificationError as exc:
        raise ConnectFailed(
            f"{what}: TLS certificate verification failed: {exc.verify_message}"
        ) from exc
    except (OSError, ssl.SSLError) as exc:
        detail = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
        if connecting:
            raise ConnectFailed(f"{what}: {detail}") from exc
        raise ConnectionLost(f"{what}: {detail}") from exc


def open_transport(
    address: BrokerAddress,
    *,
    connect_timeout: float,
    write_timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> SocketTransport:
    """Connect to ``address`` (TCP, then TLS when the scheme asks for it).

    Raises:
        ConnectTimeout: TCP connect or the TLS handshake took longer than ``connect_timeout``.
        ConnectFailed: refused, unreachable, or the TLS handshake/verification failed.
    """
    with map_socket_errors(f"connect to {address.url}", connecting=True):
        sock = socket.create_connection((address.host, address.port), timeout=connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if address.use_ssl:
                if ssl_context is None:
                    ssl_context = ssl.create_default_context()
                sock = ssl_context.wrap_socket(
                    sock, server_hostname=server_hostname or address.host
                )
            sock.settimeout(write_timeout)
        except BaseException:
            sock.close()
            raise
    return SocketTransport(sock, address)


class SocketTransport:
    """One connected socket.

    ``write`` may be called from any thread (one lock keeps frames whole); ``read`` belongs
    to the connection's reader thread. ``last_read``/``last_write`` are ``time.monotonic()``
    stamps of the last byte received/sent.
    """

    def __init__(self, sock: socket.socket, address: BrokerAddress) -> None:
        self._sock = sock
        self.address = address
        self.write_lock = threading.Lock()
        self.last_read = self.last_write = time.monotonic()
        self._closed = False
        self._tls = isinstance(sock, ssl.SSLSocket)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    def write(self, data: bytes) -> None:
        """Send all of ``data`` (thread-safe; frames never interleave).

        Raises:
            ConnectionLost: the socket failed or a write took longer than the write timeout
                (the stream may be cut mid-frame, so the connection is unusable).
        """
        with self.write_lock:
            self.send_locked(data)

    def send_locked(self, data: bytes) -> None:
        """:meth:`write` for a caller that already holds :attr:`write_lock` (so it can build
        the frame and send it in one critical section, keeping frames in call order)."""
        if self._closed:
            raise ConnectionLost(f"connection to {self.address.url} is closed")
        try:
            with map_socket_errors(f"write to {self.address.url}"):
                self._sock.sendall(data)
        except ConnectionLost:
            self.close()  # a partial write leaves a cut frame: the stream is unusable
            raise
        self.last_write = time.monotonic()

    def try_write(self, data: bytes) -> bool:
        """Write ``data`` only when no other thread is writing (heart-beats: a busy writer
        already proves liveness, and the reader must never block on the write lock).
        Returns whether it wrote."""
        if not self.write_lock.acquire(blocking=False):
            return False
        try:
            self.send_locked(data)
            return True
        finally:
            self.write_lock.release()

    def read(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` seconds for data.

        Returns:
            The bytes received, ``b""`` at EOF, or ``None`` when nothing came in time.

        Raises:
            ConnectionLost: the socket failed.
        """
        sock = self._sock
        with map_socket_errors(f"read from {self.address.url}"):
            if not (self._tls and sock.pending()):  # type: ignore[attr-defined]
                readable, _, _ = select.select([sock], [], [], timeout)
                if not readable:
                    return None
            try:
                data = sock.recv(RECV_SIZE)
            except (TimeoutError, ssl.SSLWantReadError):
                return None  # an incomplete TLS record; more will come
            except OSError:
                if self._closed:
                    return b""
                raise
        if data:
            self.last_read = time.monotonic()
        return data

    def close(self) -> None:
        """Shut the socket down and close it (idempotent, never raises)."""
        if self._closed:
            return
        self._closed = True
        with suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        try:
            self._sock.close()
        except OSError:
            log.debug("error closing socket to %s", self.address.url, exc_info=True)

    def fileno(self) -> int:
        """The socket's file descriptor (-1 once closed)."""
        return self._sock.fileno()
