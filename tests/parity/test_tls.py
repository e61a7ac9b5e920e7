"""TLS: verification on by default, CA files, SSLContext, client certificates, SNI."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from stomp_enterprise import ConnectFailed, TlsOptions
from stomp_enterprise.testing import Broker


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture
def tls_broker(ca: trustme.CA):
    with Broker(ssl_context=_server_context(ca, "127.0.0.1", "localhost")) as broker:
        yield broker


def test_tls_with_ca_file(new_client, tls_broker: Broker, ca: trustme.CA, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    assert tls_broker.url.startswith("ssl://")
    with new_client(tls_broker.url, ssl=TlsOptions(ca_file=ca_file), heart_beats=(0, 0)) as client:
        sub = client.subscribe("/queue/tls")
        client.send("/queue/tls", b"secret", receipt=True)
        assert sub.get(timeout=5).body == b"secret"


def test_tls_with_ssl_context_and_stomp_ssl_scheme(
    new_client, tls_broker: Broker, ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    url = tls_broker.url.replace("ssl://", "stomp+ssl://")
    with new_client(url, ssl=context, heart_beats=(0, 0)) as client:
        client.send("/queue/tls", b"x", receipt=True)


def test_verification_is_on_by_default(new_client, tls_broker: Broker) -> None:
    client = new_client(tls_broker.url, heart_beats=(0, 0))  # system CAs do not know our CA
    with pytest.raises(ConnectFailed, match="certificate verif"):
        client.connect()


def test_hostname_mismatch_fails(new_client, ca: trustme.CA, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with Broker(ssl_context=_server_context(ca, "broker.example.org")) as broker:
        client = new_client(broker.url, ssl=TlsOptions(ca_file=ca_file), heart_beats=(0, 0))
        with pytest.raises(ConnectFailed, match="certificate verif"):
            client.connect()
        # SNI / verification name override: the certificate names broker.example.org
        options = TlsOptions(ca_file=ca_file, server_hostname="broker.example.org")
        with new_client(broker.url, ssl=options, heart_beats=(0, 0)) as client:
            assert client.is_connected


def test_client_certificate(new_client, ca: trustme.CA, tmp_path: Path) -> None:
    server = _server_context(ca, "127.0.0.1")
    server.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(server)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    client_cert = ca.issue_cert("client@example.org")
    cert_file = tmp_path / "client.pem"
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    with Broker(ssl_context=server) as broker:
        options = TlsOptions(ca_file=ca_file, cert_file=cert_file)
        with new_client(broker.url, ssl=options, heart_beats=(0, 0)) as client:
            client.send("/queue/mtls", b"x", receipt=True)


def test_missing_ca_file_is_a_config_error(new_client, tmp_path: Path) -> None:
    from stomp_enterprise import ConfigError

    with pytest.raises(ConfigError, match="TLS"):
        new_client("ssl://127.0.0.1:1", ssl=TlsOptions(ca_file=tmp_path / "missing.pem"))


def test_tls_concurrent_reads_and_writes_stay_intact(
    new_client, tls_broker: Broker, ca: trustme.CA, tmp_path: Path
) -> None:
    """The reader and the writer share one TLS connection; large frames both ways at once."""
    import threading

    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    body = bytes(range(256)) * 512  # 128 KiB with NULs
    received: list[bytes] = []
    done = threading.Event()

    def handler(message) -> None:
        received.append(message.body)
        if len(received) == 40:
            done.set()

    options = TlsOptions(ca_file=ca_file)
    with new_client(tls_broker.url, ssl=options, heart_beats=(0, 0)) as client:
        client.subscribe("/topic/tls-big", handler)
        senders = [
            threading.Thread(
                target=lambda: [client.send("/topic/tls-big", body) for _ in range(10)]
            )
            for _ in range(4)
        ]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join(60)
        client.send("/queue/tls-sync", b"x", receipt=True)
        assert done.wait(30)
    assert all(item == body for item in received)


def test_tls_handlers_acks_are_written_by_the_dispatcher(
    new_client, tls_broker: Broker, ca: trustme.CA
) -> None:
    """Over TLS the dispatcher writes its batch's held ACKs through the locked TLS path."""
    import threading

    context = ssl.create_default_context()
    ca.configure_trust(context)
    count = 300
    for n in range(count):
        tls_broker.publish("/queue/tls-acks", b"%d" % n)
    done = threading.Event()
    seen: list[bytes] = []

    def handler(message) -> None:
        message.ack()
        seen.append(message.body)
        if len(seen) == count:
            done.set()

    with new_client(tls_broker.url, ssl=context, heart_beats=(0, 0)) as client:
        client.subscribe("/queue/tls-acks", handler, ack="client-individual")
        assert done.wait(20)
        tls_broker.wait_for(lambda: tls_broker.unacked() == 0, timeout=5)
    assert seen == [b"%d" % n for n in range(count)]
    assert len(tls_broker.received_frames("ACK")) == count
