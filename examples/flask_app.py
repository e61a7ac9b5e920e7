"""A Flask app that sends to a STOMP broker from its request threads.

* ONE :class:`~stomp_enterprise.Client` per process, created lazily on first use, so under
  gunicorn (pre-fork) each worker creates its own after the fork. A client never crosses a
  fork: its reader and dispatcher threads do not exist in the child.
* Request threads share that client: ``send`` is thread-safe.
* ``POST /orders`` sends the order and an audit record in ONE transaction (both or neither)
  and answers 202 Accepted; ``GET /health`` reports the connection state.

Run it::

    stomp-enterprise broker &                       # or any STOMP broker
    STOMP_URL='failover:(tcp://127.0.0.1:61613)?timeout=5000' flask --app examples/flask_app run

    curl -X POST localhost:5000/orders -H 'content-type: application/json' \
         -d '{"item": "widget", "qty": 2}'

Under gunicorn nothing else is needed: the client is created by the first request a worker
serves. To connect eagerly instead, call ``SHARED.get()`` from gunicorn's ``post_fork`` hook.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from typing import Any

from flask import Flask, jsonify, request

from stomp_enterprise import Client, StompError

log = logging.getLogger(__name__)

ORDERS = "/queue/orders"
AUDIT = "/queue/audit"


class SharedClient:
    """One connected :class:`Client` per process, created on first use.

    ``get()`` may be called from any thread. After a ``fork`` the child sees a different
    ``os.getpid()`` and builds its own client; the inherited one is abandoned, never used
    (its threads did not survive the fork, and writing to its socket would interleave with
    the parent's frames).
    """

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.options = options
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._pid: int | None = None

    def get(self) -> Client:
        """The process's client, connecting it on first use."""
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                client = Client(self.url, **self.options)
                client.connect()
                self._client, self._pid = client, os.getpid()
            return self._client

    def peek(self) -> Client | None:
        """The client if this process has created one, else None (never connects)."""
        return self._client if self._pid == os.getpid() else None

    def close(self) -> None:
        """Disconnect this process's client (gunicorn ``worker_exit``, tests)."""
        with self._lock:
            client, self._client = self._client, None
            if client is not None and self._pid == os.getpid():
                client.disconnect()


def create_app(url: str | None = None, **client_options: Any) -> Flask:
    """The app; ``url`` defaults to ``$STOMP_URL``."""
    app = Flask(__name__)
    shared = SharedClient(
        url or os.environ.get("STOMP_URL", "failover:(tcp://127.0.0.1:61613)?timeout=5000"),
        **client_options,
    )
    app.extensions["stomp"] = shared

    @app.post("/orders")
    def create_order() -> Any:
        order = request.get_json(silent=True)
        if not isinstance(order, dict) or not isinstance(order.get("item"), str):
            return jsonify(error="expected a JSON object with an 'item'"), 400
        order_id = str(uuid.uuid4())
        order = {**order, "id": order_id}
        try:
            client = shared.get()
            with client.transaction() as tx:  # both messages, or neither
                tx.send(ORDERS, json.dumps(order), content_type="application/json")
                tx.send(
                    AUDIT,
                    json.dumps({"event": "order-accepted", "order": order_id}),
                    content_type="application/json",
                )
        except StompError as exc:
            log.warning("order %s not queued: %s", order_id, exc)
            return jsonify(error=f"messaging unavailable: {exc}"), 503
        return jsonify(id=order_id, status="accepted"), 202

    @app.get("/health")
    def health() -> Any:
        try:
            client = shared.get()
        except StompError as exc:
            return jsonify(connected=False, error=str(exc)), 503
        body = {
            "connected": client.is_connected,
            "broker": client.broker,
            "version": client.version,
            "reconnects": client.reconnects,
            "disconnected_seconds": round(client.disconnected_seconds, 3),
        }
        return jsonify(body), 200 if client.is_connected else 503

    return app


if __name__ == "__main__":  # pragma: no cover - `python examples/flask_app.py`
    create_app().run(threaded=True)
