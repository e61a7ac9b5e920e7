"""TLS configuration: verification ON by default with the system CAs; SNI always sent."""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from stomp_enterprise.errors import ConfigError

__all__ = ["TlsOptions", "make_ssl_context"]


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
