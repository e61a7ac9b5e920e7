"""Item 14: no secret (passcode, Authorization-like header, URL password, key password) in
any exception text, repr or log line. One test per place that can quote user input."""

from __future__ import annotations

import pytest
import trustme

from stomp_enterprise import (
    Client,
    ClientConfig,
    ConfigError,
    LocalProtocolError,
    TlsOptions,
)
from stomp_enterprise.protocol import Frame, Session
from stomp_enterprise.protocol.failover import BrokerAddress, FailoverUri, parse_uri
from stomp_enterprise.protocol.frames import redacted_headers
from stomp_enterprise.protocol.serializer import serialize
from stomp_enterprise.transport.tls import make_ssl_context

SECRET = "TOPSECRET"


def _shown(exc: BaseException) -> str:
    """Everything an exception can show: text, repr, context, and its chain's text."""
    parts = [str(exc), repr(exc), repr(getattr(exc, "context", None))]
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not exc.__suppress_context__:
        parts.append(_shown(cause))
    return "\n".join(parts)


# ----------------------------------------------------------------- header values (escaping)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
@pytest.mark.parametrize("breaker", ["\n", "\r", "\r\n"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"passcode": f"{SECRET}{{}}x"},
        {"login": "app", "headers": {"Authorization": f"Bearer {SECRET}{{}}x"}},
    ],
    ids=["passcode", "authorization"],
)
def test_line_break_in_a_connect_header_names_the_header_and_the_rule_not_the_value(
    version, breaker, kwargs
) -> None:
    filled = {
        key: value.replace("{}", breaker)
        if isinstance(value, str)
        else {k: v.replace("{}", breaker) for k, v in value.items()}
        for key, value in kwargs.items()
    }
    session = Session(versions=(version,))
    with pytest.raises(LocalProtocolError) as info:
        session.connect("/", **filled)
    text = _shown(info.value)
    assert SECRET not in text
    header = "passcode" if "passcode" in filled else "Authorization"
    assert f"header {header!r}" in text
    assert "never escaped in any STOMP version" in text
    assert "1.0 cannot" not in text


@pytest.mark.parametrize(
    ("version", "value", "rule"),
    [
        ("1.0", f"Bearer {SECRET}\nx", "STOMP 1.0 cannot express"),
        ("1.0", f"Bearer {SECRET}\rx", "STOMP 1.0 cannot express"),
        ("1.1", f"Bearer {SECRET}\rx", "STOMP 1.1 cannot express"),
    ],
)
def test_unexpressible_send_header_names_the_header_not_the_value(version, value, rule) -> None:
    with pytest.raises(LocalProtocolError) as info:
        serialize("SEND", [("destination", "/q"), ("authorization", value)], b"", version)
    assert SECRET not in _shown(info.value)
    assert "header 'authorization'" in str(info.value)
    assert rule in str(info.value)


@pytest.mark.parametrize("item", [("passcode", SECRET, "extra"), (SECRET,), SECRET])
def test_malformed_header_pair_is_not_quoted(item) -> None:
    with pytest.raises(LocalProtocolError, match="must be a \\(name, value\\) pair") as info:
        Frame("SEND", [item])  # type: ignore[list-item]
    assert SECRET not in _shown(info.value)


# ----------------------------------------------------------------- URLs with a password

URIS = [
    f"tcp://user:{SECRET}@host:61613",
    f"tcp://user:{SECRET}@host:99999",
    f"tcp://user:TOP/{SECRET}@host",
    f"tcp://user:TOP@{SECRET}@host",
    f"tcp://{SECRET}@host",
    f"failover:(tcp://u:{SECRET}@h1,tcp://h2)?randomize=false",
    f"failover:(tcp://u:{SECRET}@h1",
    f"failover:tcp://u:{SECRET}@h?randomize=false",
    f"tcp://u:{SECRET}@h1,tcp://h2",
    f"failover:(tcp://h1?password={SECRET})?bogus=1",
    f"failover:(tcp://h1)?password={SECRET}",
]
ENTRY_POINTS = {
    "parse_uri": parse_uri,
    "BrokerAddress.parse": BrokerAddress.parse,
    "FailoverUri": lambda uri: FailoverUri(brokers=[uri]),
    "ClientConfig": lambda uri: ClientConfig(url=uri),
    "ClientConfig.build": lambda uri: ClientConfig.build(url=uri),
    "Client": Client,
}


@pytest.mark.parametrize("uri", URIS)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_url_password_is_never_quoted_in_a_config_error(uri, entry) -> None:
    with pytest.raises(ConfigError) as info:
        ENTRY_POINTS[entry](uri)
    assert SECRET not in _shown(info.value)


def test_redaction_keeps_the_rest_of_the_uri_for_the_reader() -> None:
    with pytest.raises(ConfigError) as info:
        parse_uri(f"failover:(tcp://u:{SECRET}@h1:61613,tcp://h2)")
    assert "tcp://***@h1:61613" in str(info.value)
    assert "user information" in str(info.value)


def test_a_password_option_in_a_valid_uri_is_redacted_in_reprs() -> None:
    url = f"failover:(tcp://127.0.0.1:61613?password={SECRET})?randomize=false"
    config = ClientConfig(url=url, passcode=SECRET, connect_headers={"authorization": SECRET})
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    client = Client(url, passcode=SECRET)
    assert SECRET not in repr(client)
    assert "password=***" in repr(client)


# ----------------------------------------------------------------- TLS key password


def test_tls_options_repr_hides_the_key_password() -> None:
    options = TlsOptions(key_password=SECRET)
    assert SECRET not in repr(options)
    assert SECRET not in str(options)
    assert options.key_password == SECRET


def test_wrong_key_password_error_does_not_quote_it(tmp_path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("client.test")
    key = tmp_path / "key.pem"
    chain = tmp_path / "chain.pem"
    cert.private_key_pem.write_to_path(str(key))
    cert.cert_chain_pems[0].write_to_path(str(chain))
    options = TlsOptions(cert_file=chain, key_file=tmp_path / "missing.pem", key_password=SECRET)
    with pytest.raises(ConfigError) as info:
        make_ssl_context(options)
    assert SECRET not in _shown(info.value)


# ----------------------------------------------------------------- reprs and logs


def test_frame_repr_redacts_authorization_like_headers() -> None:
    frame = Frame(
        "CONNECT",
        [
            ("passcode", SECRET),
            ("Authorization", SECRET),
            ("Proxy-Authorization", SECRET),
            ("x-api-key", SECRET),
            ("access-token", SECRET),
            ("login", "app"),
        ],
    )
    assert SECRET not in repr(frame)
    assert "'app'" in repr(frame)
    assert redacted_headers([("client-secret", SECRET)]) == [("client-secret", "***")]
