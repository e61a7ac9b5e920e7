"""examples/flask_app.py and examples/worker.py against the in-process broker."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import ModuleType

import pytest

from stomp_enterprise import Client
from stomp_enterprise.testing import Broker
from tests.modules import load_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    return load_file(f"examples_{name}", EXAMPLES / f"{name}.py")


@pytest.fixture
def flask_app(stomp_broker: Broker):
    module = load("flask_app")
    app = module.create_app(f"failover:({stomp_broker.url})?timeout=3000", heart_beats=(0, 0))
    yield module, app
    app.extensions["stomp"].close()


def test_post_order_sends_two_messages_in_one_transaction(flask_app, stomp_broker) -> None:
    module, app = flask_app
    web = app.test_client()
    response = web.post("/orders", json={"item": "widget", "qty": 2})
    assert response.status_code == 202
    order_id = response.get_json()["id"]
    stomp_broker.wait_for(lambda: stomp_broker.queue_depth(module.AUDIT) == 1)
    [order] = stomp_broker.sent_messages(module.ORDERS)
    assert json.loads(order.body) == {"item": "widget", "qty": 2, "id": order_id}
    commands = [f.command for f in stomp_broker.received_frames() if f.command != "CONNECT"]
    assert commands[:4] == ["BEGIN", "SEND", "SEND", "COMMIT"]
    assert {f.headers["transaction"] for f in stomp_broker.received_frames("SEND")} == {
        stomp_broker.received_frames("BEGIN")[0].headers["transaction"]
    }


def test_one_shared_client_for_all_request_threads(flask_app, stomp_broker) -> None:
    module, app = flask_app
    statuses: list[int] = []

    def post(n: int) -> None:
        with app.test_client() as web:
            statuses.append(web.post("/orders", json={"item": f"i{n}"}).status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert statuses == [202] * 16
    stomp_broker.wait_for(lambda: stomp_broker.queue_depth(module.ORDERS) == 16)
    assert len(stomp_broker.received_frames("CONNECT")) == 1


def test_bad_order_is_400(flask_app) -> None:
    _, app = flask_app
    assert app.test_client().post("/orders", data="nope").status_code == 400


def test_health_reports_connection_state(flask_app, stomp_broker) -> None:
    _, app = flask_app
    web = app.test_client()
    body = web.get("/health").get_json()
    assert body["connected"] is True
    assert body["broker"] == stomp_broker.url
    assert body["version"] == "1.2"
    stomp_broker.stop()
    client = app.extensions["stomp"].peek()
    stomp_broker.wait_for(lambda: not client.is_connected)
    response = web.get("/health")
    assert response.status_code == 503
    assert response.get_json()["connected"] is False
    stomp_broker.start()
    stomp_broker.wait_for(lambda: client.is_connected, timeout=10)
    assert web.get("/health").get_json()["reconnects"] == 1


def test_health_when_the_broker_is_down(stomp_broker_factory) -> None:
    broker = stomp_broker_factory()
    broker.stop()
    app = load("flask_app").create_app(broker.url, heart_beats=(0, 0))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert "could not connect" in response.get_json()["error"]
    assert app.test_client().post("/orders", json={"item": "x"}).status_code == 503


def test_worker_processes_routes_errors_and_stops_gracefully(stomp_broker: Broker) -> None:
    worker = load("worker")
    stop, ready = threading.Event(), threading.Event()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            worker.run(stomp_broker.url, stop, ready=ready, heart_beats=(0, 0))
        ),
        name="example-worker",
    )
    thread.start()
    try:
        assert ready.wait(10)
        with Client(stomp_broker.url, heart_beats=(0, 0)) as producer:
            for n in range(5):
                producer.send(worker.ORDERS, json.dumps({"item": "widget", "qty": n + 1}))
            producer.send(worker.ORDERS, json.dumps({"item": "widget", "qty": -1}), receipt=True)
        stomp_broker.wait_for(lambda: stomp_broker.queue_depth(worker.ERRORS) == 1)
        stomp_broker.wait_for(lambda: stomp_broker.unacked(worker.ORDERS) == 0)
    finally:
        stop.set()
        thread.join(20)
    assert result == [5]
    assert stomp_broker.queue_depth(worker.ORDERS) == 0
    [failed] = stomp_broker.sent_messages(worker.ERRORS)
    assert "invalid quantity -1" in dict(failed.headers)["x-stomp-enterprise-error"]
    # the worker disconnected (the broker notices the closed socket on its own thread)
    stomp_broker.wait_for(lambda: stomp_broker.sessions == 0)


def test_worker_main_parses_arguments() -> None:
    worker = load("worker")
    with pytest.raises(SystemExit) as info:
        worker.main(["--help"])
    assert info.value.code == 0
