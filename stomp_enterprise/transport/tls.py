"""TLS configuration: verification ON by default with the system CAs; SNI always sent."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stomp_enterprise.errors import ConfigError

__all__ = ["TlsOptions", "client_ssl_context", "make_ssl_context", "server_hostname_of"]

log = logging.getLogger("stomp_enterprise.client")


class TlsOptions(BaseModel):
    """How to verify the broker and present ourselves.

    Attributes:
        ca_file: PEM file of CAs to trust instead of the system store.
        cert_file: client certificate (PEM) for mutual TLS.
        key_file: its private key (PEM); may be inside ``cert_file``.
        key_password: password of the key, if encrypted ; left out of the repr and str (it
            never appears in a repr, an error or a log line).
        verify: verify the broker's certificate chain (default True; turning it off is
            insecure and logged as such by the client).
        check_hostname: verify that the certificate names the host we connect to.
        server_hostname: the name to verify and send as SNI, when it differs from the URI's
            host (e.g. connecting to an IP address).
        minimum_version: lowest TLS version accepted (default TLS 1.2).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: str | None = Field(default=None, repr=False)
    verify: bool = True
    check_hostname: bool = True
    server_hostname: str | None = None
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2


def make_ssl_context(options: TlsOptions) -> ssl.SSLContext:
    """An :class:`ssl.SSLContext` for a client from ``options``.

    Any thread.

    Raises:
        ConfigError: a file is missing or unreadable, or the key does not match.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = options.minimum_version
    try:
        if options.ca_file is not None:
            context.load_verify_locations(cafile=str(options.ca_file))
        if options.cert_file is not None:
            context.load_cert_chain(
                str(options.cert_file),
                str(options.key_file) if options.key_file else None,
                options.key_password,
            )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS files: {exc}") from exc
    if not options.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = options.check_hostname
    return context


def client_ssl_context(option: Any, uses_tls: bool) -> ssl.SSLContext | None:
    """The context a client connects to ``ssl://`` brokers with, from its ``ssl`` option:
    ``None``/``True`` verify with the system CAs, a :class:`TlsOptions` (verification off is
    logged as a WARNING), or the caller's own ``ssl.SSLContext``. ``None`` when no broker of
    the URI uses TLS. Shared by both clients; any thread.

    Raises:
        ConfigError: ``ssl=False`` with an ``ssl://`` broker, or unreadable TLS files.
    """
    if option is None or option is True:
        return make_ssl_context(TlsOptions()) if uses_tls else None
    if option is False:
        if uses_tls:
            raise ConfigError("ssl=False with an ssl:// broker in the URI")
        return None
    if isinstance(option, TlsOptions):
        if not option.verify:
            log.warning("TLS certificate verification is OFF: anyone can impersonate the broker")
        return make_ssl_context(option)
    context: ssl.SSLContext = option
    return context


def server_hostname_of(option: Any) -> str | None:
    """The ``server_hostname`` of a :class:`TlsOptions` ``ssl`` option (None otherwise)."""
    return option.server_hostname if isinstance(option, TlsOptions) else None
