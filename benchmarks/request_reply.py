"""Request/reply round trips and the cost of observation, against real brokers.

Run::

    python -m benchmarks.request_reply [--brokers activemq,rabbitmq,artemis,apollo,embedded]
                                       [--requests 4000] [--threads 16] [--runs 3]
                                       [--rate 0] [--count 20000] [--json PATH] [--quick]

Each measurement runs in a fresh ``python -m benchmarks.request_reply CASE --peer ...``
process holding both ends (the requester client and the responder client), so its CPU
time (``time.process_time()`` of the timed region, all threads) is what a round trip costs
the clients. Cases, run in alternating order within each run so that drifting load hits
all alike:

* ``rr-ours``: ``client.request()`` from ``--threads`` threads against ``client.serve()``.
* ``rr-stomp.py``: the same round trip written by hand with stomp.py 9 (a reply
  subscription per the broker's temporary-queue rules, a dict of futures by
  ``correlation-id``, a listener that answers on the responder connection).
* ``rr-observed``: ``rr-ours`` with ``observe()`` on both clients (counters, no OpenTelemetry).
* ``rr-otel-metrics``: ``observe(otel=True)`` with the OpenTelemetry SDK's ``MeterProvider``
  and a no-op tracer provider: OpenTelemetry metrics, **tracing off**.
* ``rr-otel``: ``rr-otel-metrics`` with the SDK's ``TracerProvider`` as production uses it
  (a ``BatchSpanProcessor`` to an exporter that drops the spans), every trace recorded, the
  default ``spans="essential"`` (two spans per round trip: ``request`` and ``process``).
* ``rr-otel-full``: the same with ``spans="full"`` (four spans: ``request``, ``send``,
  ``process``, the reply's ``send``).
* ``rr-otel-10%``, ``rr-otel-1%``: ``rr-otel`` with the sampler most deployments use,
  ``ParentBased(TraceIdRatioBased(r))``: one trace in ten (a hundred) is recorded.
* ``rr-otel-0%``: the same sampler at 0: tracing on, no trace recorded. Every round trip
  still carries its (unsampled) trace context, so this is the client's own cost of
  propagating traces, without any span the SDK records.
* ``sdk-floor-2``, ``sdk-floor-4``, ``sdk-floor-2-10%``, ``sdk-floor-2-1%``,
  ``sdk-floor-2-0%``: no client, no
  broker: what the SDK alone charges, in a bare loop with the same tracer provider, for the
  spans of one round trip (a root span and 1 or 3 children with the attributes and link
  ours carry), at the same sampling. The difference between ``rr-otel*`` and
  ``rr-otel-metrics`` minus this floor is the client's own part of the tracing cost.
* ``obs-counters``, ``obs-metrics``, ``obs-otel``, ``obs-otel-full``, ``obs-otel-10%``,
  ``obs-otel-1%``, ``obs-otel-0%``: no broker, no socket, one thread: the calls both
  clients' observers (``core.telemetry.Observer``, set up as in the ``rr-*`` case of the
  same name) make for
  one round trip, in the order the threaded clients make them (request span, SEND, process
  span, the reply's SEND, the reply's link, every counter). The observation's own CPU
  without the broker, the sockets and 16 threads sharing the GIL, so the most stable of
  these figures on a loaded machine; the ``rr-*`` cases show the same costs end to end.
* ``produce``, ``produce-observed``, ``produce-otel``: ``--count`` fire-and-forget SENDs of
  1 KiB (+1 final receipt) from one thread: unobserved, ``observe()`` (counters only), and
  ``observe(otel=True)`` (a span and traceparent per SEND).

Figures: round trips/s (wall clock, all threads), p50/p99 latency of one request, CPU µs per
round trip or per message. The brokers share the machine's cores with the clients.

By default the ``rr-*`` cases run closed-loop: each thread sends its next request as soon as
the last reply is in, so the clients run flat out and every case is measured at its own
saturation. There a slower case also batches less (fewer frames per system call and per
thread wake-up), which adds CPU per round trip on top of its own work. ``--rate N`` runs
them open-loop instead: request ``k`` is due ``k / N`` seconds after the start, spread over
the threads, so every case does the same work per second (as a service does under a given
load) and the CPU per round trip compares like with like; pick ``N`` below the slowest
case's closed-loop rate. Each ``rr-*`` result also has ``threads_us``: CPU µs per round trip
of the requesting threads and of the clients' readers, writers and dispatchers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]
#: rr case -> (observe: None | "counters" | "otel", sampled ratio, spans mode); ratio None:
#: OpenTelemetry metrics with tracing off (a no-op tracer provider)
RR_OURS: dict[str, tuple[str | None, float | None, str]] = {
    "rr-ours": (None, None, ""),
    "rr-observed": ("counters", None, ""),
    "rr-otel-metrics": ("otel", None, "essential"),
    "rr-otel": ("otel", 1.0, "essential"),
    "rr-otel-full": ("otel", 1.0, "full"),
    "rr-otel-10%": ("otel", 0.1, "essential"),
    "rr-otel-1%": ("otel", 0.01, "essential"),
    "rr-otel-0%": ("otel", 0.0, "essential"),
}
RR_CASES = ("rr-ours", "rr-stomp.py", *list(RR_OURS)[1:])
#: floor case -> (spans per round trip, sampled ratio)
FLOOR_CASES = {
    "sdk-floor-2": (2, 1.0),
    "sdk-floor-4": (4, 1.0),
    "sdk-floor-2-10%": (2, 0.1),
    "sdk-floor-2-1%": (2, 0.01),
    "sdk-floor-2-0%": (2, 0.0),
}
#: observer case -> the observe() setup of rr case: the observers' work of one round trip
OBSERVER_CASES = {
    "obs-counters": "rr-observed",
    "obs-metrics": "rr-otel-metrics",
    "obs-otel": "rr-otel",
    "obs-otel-full": "rr-otel-full",
    "obs-otel-10%": "rr-otel-10%",
    "obs-otel-1%": "rr-otel-1%",
    "obs-otel-0%": "rr-otel-0%",
}
PRODUCE_CASES = ("produce", "produce-observed", "produce-otel")
CASES = RR_CASES + tuple(FLOOR_CASES) + tuple(OBSERVER_CASES) + PRODUCE_CASES
LOGIN = PASSCODE = "guest"
SIZE = 1024


# --------------------------------------------------------------------------------------------
# one measurement (in its own process)
# --------------------------------------------------------------------------------------------


def _otel_providers(ratio: float | None = 1.0) -> tuple[Any, Any]:
    """The SDK's providers as production sets them up: ``ratio`` 1 every trace, ``None`` a
    no-op tracer provider (tracing off), else ``ParentBased(TraceIdRatioBased(ratio))`` (0:
    tracing on, no trace sampled); spans
    to a ``BatchSpanProcessor`` whose exporter drops them."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
    from opentelemetry.trace import NoOpTracerProvider

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    if ratio is None:
        return _Unshut(NoOpTracerProvider()), meter_provider
    sampler = ALWAYS_ON if ratio >= 1.0 else ParentBased(TraceIdRatioBased(ratio))
    tracer_provider = TracerProvider(sampler=sampler)
    tracer_provider.add_span_processor(BatchSpanProcessor(Dropped()))
    return tracer_provider, meter_provider


class _Unshut:
    """A provider without ``shutdown()`` (the API's no-op one), given one."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        return self.provider.get_tracer(*args, **kwargs)

    def shutdown(self) -> None:
        return None


def sdk_floor(count: int, spans: int, ratio: float) -> list[float]:
    """``count`` times the spans of one round trip, in a bare loop, with the benchmark's
    providers: a root span with the 8 attributes of a ``request`` span and ``spans - 1``
    children with the 10 attributes of a ``process`` span and a link to the root (what a
    ``process`` span carries). No propagation, no context, no client: the SDK's own part."""
    from opentelemetry import trace

    tracer_provider, meter_provider = _otel_providers(ratio)
    tracer = tracer_provider.get_tracer("sdk-floor")
    base = {
        "server.address": "127.0.0.1",
        "server.port": 61613,
        "messaging.system": "rabbitmq",
        "messaging.destination.name": "/queue/bench",
        "messaging.operation.name": "request",
        "messaging.operation.type": "send",
        "messaging.message.body.size": SIZE,
        "messaging.message.conversation_id": "c-1",
    }
    child = base | {
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "messaging.message.id": "m-1",
        "messaging.destination.subscription.name": "1",
    }
    producer, consumer = trace.SpanKind.PRODUCER, trace.SpanKind.CONSUMER

    def run() -> list[float]:
        for _ in range(count):
            root = tracer.start_span("request /queue/bench", kind=producer, attributes=base)
            context = trace.set_span_in_context(root)
            links = [trace.Link(root.get_span_context())]
            for _ in range(spans - 1):
                tracer.start_span(
                    "process /queue/bench", context, kind=consumer, attributes=child, links=links
                ).end()
            root.end()
        tracer_provider.shutdown()  # the batch processor's export of the last spans
        return []

    try:
        return _timed(run)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


def _ours(
    url: str,
    vhost: str,
    observe: str | None,
    providers: tuple[Any, Any] | None,
    spans: str = "essential",
) -> Any:
    from stomp_enterprise import Client

    client = Client(url, login=LOGIN, passcode=PASSCODE, vhost=vhost, heart_beats=(0, 0))
    client.connect()
    if observe == "otel":
        assert providers is not None
        client.observe(
            otel=True, tracer_provider=providers[0], meter_provider=providers[1], spans=spans
        )
    elif observe == "counters":
        client.observe()
    return client


def _threads(
    count: int, threads: int, one: Callable[[int], None], rate: float = 0.0
) -> list[float]:
    """``count`` calls of ``one(i)`` spread over ``threads`` threads; their latencies. With
    ``rate``, call ``i`` waits until ``i / rate`` seconds after the start (open loop). The
    CPU the calling threads spent goes to ``_SPLIT["requesters"]``."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    _SPLIT["requesters"] = 0.0
    start = time.perf_counter()

    def worker(first: int) -> None:
        mine = []
        started_cpu = time.thread_time()
        try:
            for i in range(first, count, threads):
                if rate:
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                started = time.perf_counter()
                one(i)
                mine.append(time.perf_counter() - started)
        except BaseException as exc:
            errors.append(exc)
        with lock:
            latencies.extend(mine)
            _SPLIT["requesters"] += time.thread_time() - started_cpu

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return latencies


def rr_ours(
    url: str, vhost: str, dest: str, count: int, threads: int, case: str, rate: float = 0.0
) -> list[float]:
    """One of :data:`RR_OURS` (``rate``: open loop, see :func:`_threads`)."""
    observe, ratio, spans = RR_OURS[case]
    providers = _otel_providers(ratio) if observe == "otel" else None
    with contextlib.ExitStack() as stack:
        if providers is not None:
            stack.callback(providers[1].shutdown)
            stack.callback(providers[0].shutdown)
        server = _ours(url, vhost, observe, providers, spans)
        stack.callback(server.disconnect)
        client = _ours(url, vhost, observe, providers, spans)
        stack.callback(client.disconnect)
        server.serve(dest, lambda message: message.body, receipt=True)
        client.request(dest, b"warm-up", timeout=30)
        body = b"x" * SIZE

        def one(i: int) -> None:
            if client.request(dest, body, timeout=30).body != body:
                raise AssertionError("a reply that is not the echo of its request")

        before = _library_threads()
        latencies = _timed(lambda: _threads(count, threads, one, rate))
        for group, seconds in _library_threads().items():
            _SPLIT[group] = seconds - before.get(group, 0.0)
        return latencies


def _library_threads() -> dict[str, float]:
    """CPU seconds so far of the clients' threads, summed by kind (``stomp-reader``,
    ``stomp-writer``, ``stomp-dispatch``; both clients together), from Linux's
    ``/proc/self/task/*/schedstat``; empty elsewhere."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    totals: dict[str, float] = {}
    for native_id, name in names.items():
        if not name.startswith("stomp-"):
            continue
        kind = "-".join(name.split("-")[:2])
        try:
            with open(f"/proc/self/task/{native_id}/schedstat") as stat:
                nanoseconds = int(stat.read().split()[0])
        except OSError:
            return {}
        totals[kind] = totals.get(kind, 0.0) + nanoseconds / 1e9
    return totals


def _reply_plan(server: str) -> tuple[str, str | None]:
    """The hand-written equivalent of ``core.requests.reply_endpoint``: (reply-to, the
    destination to SUBSCRIBE to or None)."""
    name = uuid.uuid4().hex[:12]
    if server.startswith("RabbitMQ"):
        return f"/temp-queue/{name}", None
    if server.startswith(("ActiveMQ-Artemis",)):
        return f"/queue/rr-{name}", f"/queue/rr-{name}"
    return f"/temp-queue/{name}", f"/temp-queue/{name}"


def rr_stomppy(
    url: str, vhost: str, dest: str, count: int, threads: int, rate: float = 0.0
) -> list[float]:
    import stomp

    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    pending: dict[str, Future[Any]] = {}
    lock = threading.Lock()
    server_headers: dict[str, str] = {}

    class Requester(stomp.ConnectionListener):  # type: ignore[misc]
        def on_connected(self, frame: Any) -> None:
            server_headers.update(frame.headers)

        def on_message(self, frame: Any) -> None:
            with lock:
                future = pending.pop(frame.headers.get("correlation-id", ""), None)
            if future is not None:
                future.set_result(frame)

    responder = stomp.Connection12(
        [(host, int(port))], heartbeats=(0, 0), vhost=vhost, auto_decode=False
    )
    requester = stomp.Connection12(
        [(host, int(port))], heartbeats=(0, 0), vhost=vhost, auto_decode=False
    )

    class Responder(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: Any) -> None:
            headers = frame.headers
            responder.send(
                headers["reply-to"],
                frame.body,
                headers={"correlation-id": headers["correlation-id"]},
            )

    responder.set_listener("r", Responder())
    requester.set_listener("q", Requester())
    try:
        responder.connect(LOGIN, PASSCODE, wait=True)
        requester.connect(LOGIN, PASSCODE, wait=True)
        responder.subscribe(dest, "svc", ack="auto")
        reply_to, subscribe = _reply_plan(server_headers.get("server", ""))
        if subscribe is not None:
            requester.subscribe(subscribe, "replies", ack="auto")
        ids = iter(range(1, 1 << 62))

        def request(body: bytes) -> Any:
            future: Future[Any] = Future()
            with lock:
                cid = f"c-{next(ids)}"
                pending[cid] = future
            requester.send(dest, body, headers={"correlation-id": cid, "reply-to": reply_to})
            reply = future.result(30)
            if reply.body != body:
                raise AssertionError("a reply that is not the echo of its request")
            return reply

        request(b"warm-up")
        body = b"x" * SIZE
        return _timed(lambda: _threads(count, threads, lambda i: request(body), rate))
    finally:
        for connection in (requester, responder):
            with contextlib.suppress(Exception):  # it may never have connected
                connection.disconnect()


def produce(url: str, vhost: str, dest: str, count: int, observe: str | None) -> list[float]:
    providers = _otel_providers() if observe == "otel" else None
    client = _ours(url, vhost, observe, providers)
    try:
        body = b"x" * SIZE
        send = client.send

        def run() -> list[float]:
            for _ in range(count - 1):
                send(dest, body)
            send(dest, body, receipt=True)
            return []

        return _timed(run)
    finally:
        client.disconnect()
        if providers is not None:
            providers[0].shutdown()
            providers[1].shutdown()


def observer_round_trips(count: int, case: str) -> list[float]:
    """``count`` round trips' worth of both observers' calls (see ``obs-*``)."""
    import threading as _threading
    from types import SimpleNamespace

    from stomp_enterprise.core.telemetry import Observer, observed_body

    observe, ratio, spans = RR_OURS[OBSERVER_CASES[case]]
    providers = _otel_providers(ratio) if observe == "otel" else None
    options: dict[str, Any] = {}
    if providers is not None:
        options = {
            "otel": True,
            "tracer_provider": providers[0],
            "meter_provider": providers[1],
            "spans": spans,
        }
    requester = Observer(_threading.Lock(), **options)
    responder = Observer(_threading.Lock(), **options)
    for observer in (requester, responder):
        observer.connected("RabbitMQ/3.10.8", "127.0.0.1", 61720)
    service, reply_to = "/queue/bench", "/temp-queue/bench"
    subscription = SimpleNamespace(destination=service, id="1")
    body = b"x" * SIZE

    class Frame:
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers, self.body = headers, body

        def get(self, name: str) -> str | None:
            return self.headers.get(name)

    def one(i: int) -> None:
        span = requester.requesting(service)
        _, _, size, _ = observed_body(body, None)
        request: dict[str, str] = {}
        requester.send(
            service,
            {"correlation-id": f"c-{i}", "reply-to": reply_to},
            size,
            lambda sent: request.update(sent or {}),
        )
        requester.count("requests", 1, service, "request")
        headers = {**request, "destination": service, "message-id": f"m-{i}"}
        message = SimpleNamespace(frame=Frame(headers), subscription=subscription)
        process, destination = responder.handling(message)
        started = time.perf_counter()
        _, _, size, _ = observed_body(body, None)
        reply: dict[str, str] = {}
        responder.replying()
        responder.send(
            reply_to, {"correlation-id": f"c-{i}"}, size, lambda sent: reply.update(sent or {})
        )
        responder.processed(process, destination, time.perf_counter() - started, None)
        requester.count("replies", 1, service, "request")
        requester.requested(span, service, None, reply)

    def run() -> list[float]:
        for i in range(count):
            one(i)
        if providers is not None:
            providers[0].shutdown()  # the batch processor's export of the last spans
        return []

    for i in range(min(count, 200)):  # warm-up: attribute caches, first spans
        one(i)
    try:
        return _timed(run)
    finally:
        if providers is not None:
            providers[0].shutdown()
            providers[1].shutdown()


_CLOCK: dict[str, float] = {}
#: the CPU of an ``rr-*`` case by thread kind: the requesting threads, and the clients'
#: readers, writers and dispatchers (seconds; see ``threads_us`` in the peer's result)
_SPLIT: dict[str, float] = {}


def _timed(fn: Callable[[], list[float]]) -> list[float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    _CLOCK["cpu"] = time.process_time() - cpu
    _CLOCK["wall"] = time.perf_counter() - wall
    return result


def peer(argv: list[str]) -> int:
    """The measuring process: prints one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=CASES)
    parser.add_argument("--url", required=True)
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    dest = f"/queue/bench-rr-{uuid.uuid4().hex[:12]}"
    case = args.case
    if case in RR_OURS:
        latencies = rr_ours(args.url, args.vhost, dest, args.count, args.threads, case, args.rate)
    elif case in FLOOR_CASES:
        latencies = sdk_floor(args.count, *FLOOR_CASES[case])
    elif case in OBSERVER_CASES:
        latencies = observer_round_trips(args.count, case)
    elif case == "rr-stomp.py":
        latencies = rr_stomppy(args.url, args.vhost, dest, args.count, args.threads, args.rate)
    else:
        observe = {"produce": None, "produce-observed": "counters", "produce-otel": "otel"}[case]
        latencies = produce(args.url, args.vhost, dest, args.count, observe)
    result: dict[str, Any] = {
        "case": case,
        "count": args.count,
        "per_s": args.count / _CLOCK["wall"],
        "cpu_us": _CLOCK["cpu"] / args.count * 1e6,
    }
    if latencies:
        ordered = sorted(latencies)
        result["p50_ms"] = ordered[len(ordered) // 2] * 1e3
        result["p99_ms"] = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
    if _SPLIT:  # µs per round trip by thread kind (the requesters; ours: also its threads)
        result["threads_us"] = {
            kind: seconds / args.count * 1e6 for kind, seconds in sorted(_SPLIT.items())
        }
    print(json.dumps(result))
    return 0


# --------------------------------------------------------------------------------------------
# the harness
# --------------------------------------------------------------------------------------------


def brokers(names: list[str]) -> Iterator[tuple[str, str, str]]:
    """``(name, url, vhost)`` of each requested broker that answers."""
    host = os.environ.get("STOMP_BROKERS_HOST", "127.0.0.1")
    ports = {"activemq": 61710, "rabbitmq": 61720, "artemis": 61730, "apollo": 61740}
    for name in names:
        if name == "embedded":
            continue
        port = int(os.environ.get(f"{name.upper()}_STOMP_PORT", ports[name]))
        yield name, f"tcp://{host}:{port}", "/"


@contextlib.contextmanager
def embedded() -> Iterator[tuple[str, str, str]]:
    from stomp_enterprise.testing import Broker

    with Broker(slow_consumer_timeout=60.0) as broker:
        yield "embedded", broker.url, "/"


def run_one(
    url: str, vhost: str, case: str, count: int, threads: int, rate: float = 0.0
) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [
        sys.executable, "-m", "benchmarks.request_reply", "--peer", case,
        "--url", url, "--vhost", vhost, "--count", str(count), "--threads", str(threads),
        "--rate", str(rate),
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=600, cwd=_ROOT, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"case": case, "error": "timed out after 600 s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        return {"case": case, "error": f"exit {proc.returncode}: {proc.stderr[-600:]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def measure(
    url: str,
    vhost: str,
    cases: list[str],
    runs: int,
    requests: int,
    count: int,
    threads: int,
    rate: float = 0.0,
) -> dict[str, list[dict[str, Any]]]:
    """Every case ``runs`` times, the order rotating from run to run (``rate``: the ``rr-*``
    cases open loop at that many round trips per second)."""
    results: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    for run in range(runs):
        order = cases[run % len(cases) :] + cases[: run % len(cases)]
        for case in order:
            n = count if case in PRODUCE_CASES else requests
            result = run_one(url, vhost, case, n, threads, rate)
            print(f"  run {run + 1} {case}: {result}", file=sys.stderr)
            results[case].append(result)
    return results


def median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if key in r]
    return statistics.median(values) if values else None


#: tracing case -> (the same with tracing off, the SDK's floor for its spans)
TRACING: dict[str, tuple[str, str]] = {
    "rr-otel": ("rr-otel-metrics", "sdk-floor-2"),
    "rr-otel-full": ("rr-otel-metrics", "sdk-floor-4"),
    "rr-otel-10%": ("rr-otel-metrics", "sdk-floor-2-10%"),
    "rr-otel-1%": ("rr-otel-metrics", "sdk-floor-2-1%"),
    "rr-otel-0%": ("rr-otel-metrics", "sdk-floor-2-0%"),
}


def table(name: str, results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The Markdown tables of one broker: every case, then the tracing cost split."""
    lines = [
        f"#### {name}",
        "",
        "| case | per s | p50 ms | p99 ms | CPU µs each | CPU vs baseline |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    baselines = dict.fromkeys(RR_CASES[1:] + tuple(FLOOR_CASES) + tuple(OBSERVER_CASES), "rr-ours")
    baselines |= {"produce-observed": "produce", "produce-otel": "produce"}
    for case, runs in results.items():
        errors = [r["error"] for r in runs if "error" in r]
        if errors:
            lines.append(f"| {case} | error: {errors[0][:80]} | | | | |")
            continue
        cells = [median(runs, key) for key in ("per_s", "p50_ms", "p99_ms", "cpu_us")]
        ratio = ""
        base = baselines.get(case)
        if base in results:
            ours, theirs = median(results[base], "cpu_us"), cells[3]
            if ours and theirs:
                ratio = f"{theirs / ours:.2f}x"
        shown = [
            f"{v:,.0f}" if i == 0 else ("" if v is None else f"{v:.2f}")
            for i, v in enumerate(cells)
        ]
        lines.append(f"| {case} | {' | '.join(shown)} | {ratio} |")
    return [*lines, "", *tracing_split(results)]


def tracing_split(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Tracing on vs off per round trip (CPU µs): the whole (end to end, and the observers'
    own calls when the ``obs-*`` cases ran), the SDK's floor for the same spans, and the
    rest (the client's own tracing work)."""
    cpu = {case: median(runs, "cpu_us") for case, runs in results.items()}
    base = cpu.get("rr-ours")
    observed = {rr: obs for obs, rr in OBSERVER_CASES.items()}
    lines = []
    for case, (off, floor) in TRACING.items():
        on, tracing_off, sdk = cpu.get(case), cpu.get(off), cpu.get(floor)
        if on is None or tracing_off is None or sdk is None or not base:
            continue
        tracing = on - tracing_off
        row = [
            case,
            f"{on / tracing_off:.2f}x",
            f"{on / base:.2f}x",
            f"{tracing:.1f}",
            f"{sdk:.1f}",
            f"{tracing - sdk:.1f}",
        ]
        obs_on, obs_off = cpu.get(observed[case]), cpu.get(observed[off])
        if obs_on is not None and obs_off is not None:
            obs_tracing = obs_on - obs_off
            row += [
                f"{obs_tracing:.1f}",
                f"{obs_tracing - sdk:.1f}",
                f"{(tracing_off + obs_tracing) / tracing_off:.2f}x",
            ]
        else:
            row += ["", "", ""]
        lines.append(f"| {' | '.join(row)} |")
    if not lines:
        return []
    return [
        "| tracing | on/off (CPU) | on/unobserved | tracing µs | SDK floor µs | ours µs "
        "| tracing µs (obs) | ours µs (obs) | on/off with obs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *lines,
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--peer":
        return peer(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", default="activemq,rabbitmq,artemis,apollo")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--requests", type=int, default=4000, help="round trips per rr case")
    parser.add_argument("--count", type=int, default=20000, help="messages per produce case")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="rr cases open loop at N per second (0: flat out)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", default=None, help="write every number here")
    parser.add_argument("--quick", action="store_true", help="tiny counts, 1 run (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.count, args.runs = 64, 200, 1
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {sorted(unknown)}")
    names = [n for n in args.brokers.split(",") if n]
    everything: dict[str, Any] = {}
    lines: list[str] = []
    targets = list(brokers(names))
    with contextlib.ExitStack() as stack:
        if "embedded" in names:
            targets.append(stack.enter_context(embedded()))
        for name, url, vhost in targets:
            print(f"{name} ({url})", file=sys.stderr)
            results = measure(
                url, vhost, cases, args.runs, args.requests, args.count, args.threads, args.rate
            )
            everything[name] = results
            lines += table(name, results)
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1))
    failed = any(
        "error" in r for results in everything.values() for runs in results.values() for r in runs
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
