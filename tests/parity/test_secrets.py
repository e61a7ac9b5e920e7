"""Item 14: no secret (passcode, Authorization-like header, URL password, key password) in
any exception text, repr or log line. One test per place that can quote user input."""

from __future__ import annotations

import logging

import pytest

from stomp_enterprise import (
    ConfigError,
    StompError,
)
from tests.client.test_secrets import SECRET, URIS, _shown


def test_client_connect_with_a_line_break_in_the_passcode(make_client) -> None:
    client = make_client(passcode=f"{SECRET}\nx")
    with pytest.raises(StompError) as info:
        client.connect()
    assert SECRET not in _shown(info.value)
    assert "'passcode'" in _shown(info.value)


def test_debug_frame_log_redacts_the_passcode_and_authorization(make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="stomp_enterprise")
    headers = {"Authorization": f"Bearer {SECRET}", "x-api-key": SECRET}
    with make_client(passcode=SECRET, connect_headers=headers):
        pass
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "CONNECT" in logged  # the frames were logged...
    assert SECRET not in logged  # ...without the secrets


@pytest.mark.parametrize("uri", URIS)
def test_a_url_password_is_never_quoted_by_the_client_constructor(new_client, uri) -> None:
    with pytest.raises(ConfigError) as info:
        new_client(uri)
    assert SECRET not in _shown(info.value)
