"""The command line on every real broker and transport: the typed message options, a
selector (or its refusal by design), a durable subscription and a request answered by a
``serve()`` of the threaded client. The CLI is the threaded client underneath: one run per
broker and transport."""

from __future__ import annotations

import json

import pytest

from integration.conftest import ClientFactory
from integration.report import REFUSED
from integration.settings import Broker
from stomp_enterprise.cli import main

pytestmark = pytest.mark.threaded_only


def _connection(broker: Broker) -> list[str]:
    """The CLI's connection options for ``broker`` (credentials, vhost, text WebSocket)."""
    options = ["--login", broker.login, "--passcode", broker.passcode]
    if broker.vhost:
        options += ["--vhost", broker.vhost]
    if broker.transport_options:
        options.append("--ws-text")
    return options


def test_cli_send_options_listen_and_request(
    broker: Broker, make_client: ClientFactory, names, capsys
) -> None:
    url, connection = broker.url, _connection(broker)
    destination = names("queue")
    argv = ["send", url, destination, "typed", "--persistent", "--priority", "6",
            "--correlation-id", "cli-7", "--type", "order.created", "--receipt"]  # fmt: skip
    assert main([*argv, *connection]) == 0
    capsys.readouterr()
    argv = ["listen", url, destination, "--count", "1", "--timeout", "20", "--json"]
    assert main([*argv, *connection]) == 0
    received = json.loads(capsys.readouterr().out)
    assert received["body"] == "typed"
    assert received["headers"]["correlation-id"] == "cli-7"

    service = names("queue")
    responder = make_client()
    responder.serve(service, lambda message: "pong:" + message.text, receipt=True)
    argv = ["request", url, service, "ping", "--timeout", "20", "--json"]
    assert main([*argv, *connection]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["body"] == "pong:ping"
    assert reply["headers"]["correlation-id"]


def test_cli_selector_filters_or_is_refused_by_design(
    broker: Broker, names, capsys, record_property
) -> None:
    url, connection = broker.url, _connection(broker)
    destination = names("queue")
    listen = ["listen", url, destination, "--selector", "region = 'EU'", "--count", "1"]
    if broker.name == "rabbitmq":
        assert main([*listen, *connection]) == 2
        assert "selector" in capsys.readouterr().err
        record_property(REFUSED, "RabbitMQ has no selectors: exit 2")
        return
    for region in ("US", "EU"):
        argv = ["send", url, destination, region, "-H", f"region:{region}", "--receipt"]
        assert main([*argv, *connection]) == 0
    capsys.readouterr()
    assert main([*listen, "--timeout", "20", *connection]) == 0
    assert capsys.readouterr().out == "EU\n"
    rest = ["listen", url, destination, "--count", "1", "--timeout", "20", *connection]
    assert main(rest) == 0
    assert capsys.readouterr().out == "US\n"


def test_cli_durable_subscription_keeps_and_unsubscribe_deletes(
    broker: Broker, names, capsys
) -> None:
    url, connection = broker.url, _connection(broker)
    topic = names("topic")
    name = topic.rsplit("-", 1)[1]
    durable = ["--durable", f"cli-{name}", "--client-id", f"cli-{name}", *connection]
    try:
        assert main(["listen", url, topic, "--timeout", "1", *durable]) == 0  # made, then away
        assert main(["send", url, topic, "kept while away", "--receipt", *connection]) == 0
        capsys.readouterr()
        assert main(["listen", url, topic, "--count", "1", "--timeout", "20", *durable]) == 0
        assert capsys.readouterr().out == "kept while away\n"
    except BaseException:
        main(["unsubscribe", url, topic, *durable])  # leave no durable subscription behind
        raise
    assert main(["unsubscribe", url, topic, *durable]) == 0
