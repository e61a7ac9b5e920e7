"""The ``stomp-enterprise`` command line, run in-process against the in-process broker."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from stomp_enterprise.cli import main
from stomp_enterprise.testing import Broker

COMMANDS = ["send", "listen", "request", "unsubscribe", "broker", "demo", "bench"]


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_help_on_every_command(command, capsys) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: stomp-enterprise")
    assert "exit codes" in out


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stomp_enterprise", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("stomp-enterprise ")


def test_send_then_listen_round_trip(stomp_broker: Broker, capsys) -> None:
    url = stomp_broker.url
    assert main(["send", url, "/queue/cli", "héllo", "-H", "x-id:42", "--receipt"]) == 0
    assert "sent 1 message of 6 bytes to /queue/cli" in capsys.readouterr().out
    assert main(["listen", url, "/queue/cli", "--count", "1", "--timeout", "5", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["body"] == "héllo"
    assert record["encoding"] == "text"
    assert record["destination"] == "/queue/cli"
    assert record["headers"]["x-id"] == "42"
    assert record["headers"]["content-type"] == "text/plain;charset=utf-8"


def test_send_count_stdin_file_and_plain_listen(
    stomp_broker: Broker, capsys, monkeypatch, tmp_path
) -> None:
    url = stomp_broker.url
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\x00\xffbinary")))
    assert main(["send", url, "/queue/bin", "-"]) == 0
    path = tmp_path / "body.txt"
    path.write_bytes(b"from a file")
    assert main(["send", url, "/queue/bin", "--file", str(path), "--count", "2"]) == 0
    capsys.readouterr()
    stomp_broker.wait_for(lambda: stomp_broker.queue_depth("/queue/bin") == 3)
    assert main(["listen", url, "/queue/bin", "--count", "3", "--ack", "client-individual"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("<8 bytes, not text; base64: AP9iaW5hcnk=")
    assert lines[1:] == ["from a file", "from a file"]
    stomp_broker.wait_for(lambda: stomp_broker.unacked() == 0)


def test_json_body_of_binary_message_is_base64(stomp_broker: Broker, capsys) -> None:
    stomp_broker.publish("/queue/raw", b"\xff\xfe")
    assert main(["listen", stomp_broker.url, "/queue/raw", "--count", "1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record == {
        "destination": "/queue/raw",
        "message_id": record["message_id"],
        "headers": record["headers"],
        "body": "//4=",
        "encoding": "base64",
    }


def test_credentials_from_the_environment(stomp_broker_factory, capsys, monkeypatch) -> None:
    broker = stomp_broker_factory(users={"app": "s3cret"})
    assert main(["send", broker.url, "/queue/x", "y"]) == 3
    assert "refused the connection: Authentication failed" in capsys.readouterr().err
    monkeypatch.setenv("STOMP_LOGIN", "app")
    monkeypatch.setenv("STOMP_PASSCODE", "s3cret")
    assert main(["send", broker.url, "/queue/x", "y"]) == 0


def test_refused_connection_exits_3(stomp_broker_factory, capsys) -> None:
    broker = stomp_broker_factory()
    broker.stop()
    assert main(["send", broker.url, "/queue/x", "y"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("stomp-enterprise: error: could not connect")
    assert "Traceback" not in err


def test_verbose_shows_the_traceback(stomp_broker_factory, capsys) -> None:
    broker = stomp_broker_factory()
    broker.stop()
    assert main(["send", "-v", broker.url, "/queue/x", "y"]) == 3
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["send"],
        ["send", "tcp://127.0.0.1:61613"],
        ["listen", "tcp://127.0.0.1:61613", "/queue/x", "--ack", "sometimes"],
        ["listen", "tcp://127.0.0.1:61613", "/queue/x", "--count", "0"],
        ["send", "tcp://127.0.0.1:61613", "/queue/x", "y", "-H", "no-colon"],
        ["send", "nonsense://host", "/queue/x", "y"],
        ["send", "tcp://127.0.0.1:61613", "/queue/x", "--file", "/nonexistent/file"],
        ["frobnicate"],
        ["request", "tcp://127.0.0.1:61613", "/queue/x", "y", "--timeout", "0"],
        ["send", "tcp://127.0.0.1:61613", "/queue/x", "y", "--priority", "high"],
    ],
)
def test_usage_errors_exit_2(argv, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err or "usage" in err
    assert "Traceback" not in err


def test_listen_timeout_before_count_exits_4(stomp_broker: Broker, capsys) -> None:
    argv = ["listen", stomp_broker.url, "/queue/empty", "--count", "1", "--timeout", "0.3"]
    assert main(argv) == 4
    assert "received 0 of 1" in capsys.readouterr().err


def test_listen_timeout_without_count_is_success(stomp_broker: Broker) -> None:
    assert main(["listen", stomp_broker.url, "/queue/empty", "--timeout", "0.3"]) == 0


def test_listen_notices_a_lost_connection(stomp_broker: Broker, capsys) -> None:
    import threading

    def drop_soon() -> None:
        stomp_broker.wait_for(lambda: stomp_broker.subscriber_count("/queue/x") == 1)
        stomp_broker.drop_connections()

    dropper = threading.Thread(target=drop_soon)
    dropper.start()
    try:
        assert main(["listen", stomp_broker.url, "/queue/x", "--timeout", "10"]) == 3
    finally:
        dropper.join(10)
    # dropped while listening: "connection lost: ..."; dropped before the SUBSCRIBE's
    # RECEIPT came back (the broker counts the subscriber first): the subscribe's own error
    err = capsys.readouterr().err
    assert "connection lost" in err or "closed the connection" in err.splitlines()[-1]


def test_broker_command_runs_and_stops(capsys) -> None:
    assert main(["broker", "--port", "0", "--duration", "0.3"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("tcp://127.0.0.1:")
    assert "broker stopped" in captured.err


def test_broker_command_over_websocket(capsys) -> None:
    assert main(["broker", "--port", "0", "--websocket", "--duration", "0.3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ws://127.0.0.1:")
    assert out.strip().endswith("/ws")


def test_send_then_listen_over_websocket(capsys) -> None:
    with Broker(websocket=True) as broker:
        assert main(["send", broker.url, "/queue/cli-ws", "over ws", "--receipt"]) == 0
        broker.wait_for(lambda: broker.queue_depth("/queue/cli-ws") == 1)


@pytest.mark.parametrize("command", [["send", "/queue/x", "y"], ["listen", "/queue/x"]])
def test_ws_text_asks_for_websocket_text_messages(command) -> None:
    """ActiveMQ Classic ignores binary WebSocket messages: --ws-text is the client's
    ``websocket={"text": True}``; without it, the default (binary)."""
    from stomp_enterprise.cli import _client, build_parser

    name, *rest = command
    for flag, text in (["--ws-text"], True), ([], False):
        args = build_parser().parse_args([name, "ws://127.0.0.1:61715/", *rest, *flag])
        assert _client(args).config.websocket.text is text


def test_bench_embedded(capsys) -> None:
    assert main(["bench", "embedded", "--count", "500", "--size", "64"]) == 0
    captured = capsys.readouterr()
    assert "produce" in captured.out
    assert "consume" in captured.out
    assert "p50" in captured.out
    assert "p99" in captured.out
    assert "500/500" in captured.err  # the progress bar


def test_bench_with_client_acks(stomp_broker: Broker, capsys) -> None:
    argv = ["bench", stomp_broker.url, "--count", "250", "--ack", "client", "--no-progress"]
    assert main(argv) == 0
    assert capsys.readouterr().err == ""
    stomp_broker.wait_for(lambda: stomp_broker.unacked() == 0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [["demo"], ["demo", "--asyncio"]],
    ids=["threaded", "asyncio"],
)
def test_demo_runs_and_every_message_arrives(capsys, argv) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert ("asyncio client" in out) == ("--asyncio" in argv)
    assert "OK: all 400 orders arrived" in out
    assert "subscriptions replayed" in out
    assert "sending the whole batch again" in out
    assert "received order 7" in out


# ---------------------------------------------------------------- message and subscription options


def test_send_takes_the_typed_message_options(stomp_broker: Broker, capsys) -> None:
    argv = ["send", stomp_broker.url, "/queue/opts", "x", "--persistent", "--priority", "7",
            "--ttl", "60", "--correlation-id", "c-1", "--reply-to", "/queue/r",
            "--type", "order.created", "--receipt"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["listen", stomp_broker.url, "/queue/opts", "--count", "1", "--json"]) == 0
    headers = json.loads(capsys.readouterr().out)["headers"]
    assert (headers["persistent"], headers["priority"]) == ("true", "7")
    assert (headers["correlation-id"], headers["reply-to"]) == ("c-1", "/queue/r")
    assert headers["type"] == "order.created"
    assert int(headers["expires"]) > 0  # epoch ms, 60 s from now
    assert main(["send", stomp_broker.url, "/queue/opts", "y", "--non-persistent"]) == 0
    (_, plain) = stomp_broker.sent_messages("/queue/opts")
    assert plain.header("persistent") == "false"


@pytest.mark.parametrize(
    ("option", "named"),
    [(["--priority", "12"], "priority"), (["--ttl", "-1"], "ttl")],
)
def test_an_invalid_message_option_exits_2_before_sending(
    stomp_broker: Broker, capsys, option, named
) -> None:
    assert main(["send", stomp_broker.url, "/queue/opts", "x", *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stomp-enterprise: error:")
    assert named in err
    assert stomp_broker.sent_messages("/queue/opts") == []


def test_listen_with_a_selector_the_broker_refuses_exits_1(stomp_broker: Broker, capsys) -> None:
    argv = ["listen", stomp_broker.url, "/queue/x", "--selector", "priority > 4", "--count", "1"]
    assert main(argv) == 1
    assert "selectors are not supported" in capsys.readouterr().err


def test_listen_with_a_selector_on_rabbitmq_is_a_usage_error(stomp_broker_factory, capsys) -> None:
    broker = stomp_broker_factory(name="RabbitMQ/3.10.8")
    assert main(["listen", broker.url, "/queue/x", "--selector", "a = 1", "--count", "1"]) == 2
    assert "selector" in capsys.readouterr().err
    assert broker.received_frames("SUBSCRIBE") == []


def test_listen_prefetch_is_written_as_the_broker_expects(stomp_broker: Broker) -> None:
    argv = ["listen", stomp_broker.url, "/queue/p", "--prefetch", "3", "--ack", "client",
            "--timeout", "0.2"]  # fmt: skip
    assert main(argv) == 0
    (subscribe,) = stomp_broker.received_frames("SUBSCRIBE")
    assert "3" in {subscribe.get("activemq.prefetchSize"), subscribe.get("prefetch-count")}


def test_listen_durable_keeps_the_topics_messages_while_away(stomp_broker: Broker, capsys) -> None:
    durable = ["--durable", "cli-invoices", "--client-id", "cli"]
    argv = ["listen", stomp_broker.url, "/topic/invoices", *durable, "--timeout", "0.2"]
    assert main(argv) == 0  # subscribed once, then away
    assert main(["send", stomp_broker.url, "/topic/invoices", "kept while away"]) == 0
    capsys.readouterr()
    assert main([*argv[:-2], "--count", "1", "--timeout", "5"]) == 0
    assert capsys.readouterr().out == "kept while away\n"


def test_unsubscribe_deletes_a_durable_subscription_and_what_it_kept(
    stomp_broker: Broker, capsys
) -> None:
    durable = ["--durable", "cli-audit", "--client-id", "cli"]
    assert main(["listen", stomp_broker.url, "/topic/audit", *durable, "--timeout", "0.2"]) == 0
    assert main(["send", stomp_broker.url, "/topic/audit", "kept, then deleted"]) == 0
    assert len(stomp_broker.durable_subscriptions()) == 1
    capsys.readouterr()
    assert main(["unsubscribe", stomp_broker.url, "/topic/audit", *durable]) == 0
    assert capsys.readouterr().out == "deleted the durable subscription cli-audit of /topic/audit\n"
    assert stomp_broker.durable_subscriptions() == []
    argv = [
        "listen",
        stomp_broker.url,
        "/topic/audit",
        *durable,
        "--count",
        "1",
        "--timeout",
        "0.3",
    ]
    assert main(argv) == 4  # a new, empty subscription: the kept message went with the old one
    assert main(["unsubscribe", stomp_broker.url, "/topic/audit", *durable]) == 0
    assert main(["unsubscribe", stomp_broker.url, "/topic/audit", *durable]) == 1  # none left
    assert "no durable subscription 'cli-audit'" in capsys.readouterr().err


def test_listen_durable_without_client_id_exits_2(stomp_broker: Broker, capsys) -> None:
    argv = ["listen", stomp_broker.url, "/topic/t", "--durable", "d", "--count", "1"]
    assert main(argv) == 2
    assert "client_id=...): the broker keys it by client id and name (here: --client-id ID)" in (
        capsys.readouterr().err
    )


# ---------------------------------------------------------------- request


def test_request_prints_the_reply(stomp_broker: Broker, capsys) -> None:
    from stomp_enterprise import Client

    with Client(stomp_broker.url) as service:
        service.serve("/queue/svc", lambda message: "pong:" + message.text, receipt=True)
        argv = ["request", stomp_broker.url, "/queue/svc", "ping", "--priority", "5",
                "--timeout", "5", "--json"]  # fmt: skip
        assert main(argv) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["body"] == "pong:ping"
    assert reply["headers"]["correlation-id"]
    (request,) = stomp_broker.sent_messages("/queue/svc")
    assert request.header("priority") == "5"
    assert request.header("correlation-id") == reply["headers"]["correlation-id"]


def test_request_without_a_reply_exits_4(stomp_broker: Broker, capsys) -> None:
    assert main(["request", stomp_broker.url, "/queue/nobody", "x", "--timeout", "0.3"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("stomp-enterprise: error:")
    assert "/queue/nobody" in err
