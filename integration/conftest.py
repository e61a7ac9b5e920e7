"""Integration fixtures: broker selection and provisioning, clients that are always closed,
a leak check, and the broker-matrix report (``integration/report.py``).

Options (each has an environment variable, the option wins):

``--brokers=activemq,rabbitmq,artemis,apollo``  ``STOMP_INTEGRATION_BROKERS`` (default: all)
``--provision=local|containers|none``           ``STOMP_INTEGRATION_PROVISION`` (default: local)
``--keep-brokers``                              ``STOMP_INTEGRATION_KEEP_BROKERS=1``

With ``local`` provisioning a broker that does not answer is started (``start.sh``); the session
stops at its end the brokers it started itself, keeps those that were already running, and
says in the terminal summary what is left running and how to stop it (``integration/lifecycle.py``;
``--keep-brokers`` keeps the ones it started too, for a faster next run).

A selected broker that cannot be reached fails its tests when ``CI`` is set, and skips them
(with the reason) otherwise.

Every scenario that builds its clients with ``make_client`` (or takes ``client``) runs for
both clients: ``client_kind`` is ``threaded`` (:class:`stomp_enterprise.Client`) or ``asyncio``
(:class:`stomp_enterprise.aio.Client` through the blocking test facade ``tests/sync_aio.py``),
in the test id next to the broker. A scenario marked ``threaded_only`` (a threaded-only API
such as ``send_async``) and the chaos and cluster suites run for the threaded client alone.
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from integration import settings
from integration.lifecycle import SessionBrokers
from integration.report import MatrixReporter
from integration.settings import Broker
from stomp_enterprise import Client
from tests.sync_aio import SyncAioClient, mark_aio_known_bugs

_START_TIMEOUT = float(os.environ.get("STOMP_INTEGRATION_START_TIMEOUT", "180"))
_STOP_TIMEOUT = 60.0
_LEAK_GRACE = 8.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("integration", "stomp_enterprise integration brokers")
    group.addoption(
        "--brokers",
        default=None,
        help="comma-separated brokers: activemq,rabbitmq,artemis,apollo "
        "(env STOMP_INTEGRATION_BROKERS; default all)",
    )
    group.addoption(
        "--transports",
        default=None,
        help="comma-separated: tcp,ws (env STOMP_INTEGRATION_TRANSPORTS; default both). "
        "Every scenario runs over each selected transport a broker has",
    )
    group.addoption(
        "--write-matrix",
        action="store_true",
        default=False,
        help="write docs/broker-matrix.md from this run's results (integration/results.json "
        "is always written)",
    )
    group.addoption(
        "--keep-brokers",
        action="store_true",
        default=False,
        help="keep running the brokers this session started (default: stop them at the end; "
        "brokers already running before the session are always kept) "
        "(env STOMP_INTEGRATION_KEEP_BROKERS=1)",
    )
    group.addoption(
        "--provision",
        default=None,
        choices=("local", "containers", "none"),
        help="local: the integration/brokers/*.sh processes, started when not answering; "
        "containers: testcontainers (needs Docker); none: use what answers "
        "(env STOMP_INTEGRATION_PROVISION; default local)",
    )


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def _keep_brokers(config: pytest.Config) -> bool:
    return bool(config.getoption("--keep-brokers")) or os.environ.get(
        "STOMP_INTEGRATION_KEEP_BROKERS", ""
    ) not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    try:
        names = settings.select(config.getoption("--brokers"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    provision = (
        config.getoption("--provision") or os.environ.get("STOMP_INTEGRATION_PROVISION") or "local"
    )
    if provision not in ("local", "containers", "none"):
        raise pytest.UsageError(f"STOMP_INTEGRATION_PROVISION={provision!r}: local|containers|none")
    config.stash[_SELECTED] = names
    try:
        transports = settings.select_transports(config.getoption("--transports"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    known = settings.load_brokers()
    config.stash[_PAIRS] = [
        (name, transport)
        for name in names
        for transport in transports
        if transport == "tcp" or known[name].ws_port is not None
    ]
    config.stash[_PROVISION] = provision
    versions = settings.read_versions(settings.env_values())
    reporter = MatrixReporter(
        names, versions, provision, write_docs=bool(config.getoption("--write-matrix"))
    )
    config.stash[_REPORTER] = reporter
    config.pluginmanager.register(reporter, "stomp-broker-matrix")
    # stomp.py and testcontainers/docker warn about things outside our control
    for line in (
        "ignore:.*utcnow.*:DeprecationWarning:docker",
        "ignore::DeprecationWarning:testcontainers",
        "ignore:The wait_for_logs function.*:DeprecationWarning",
    ):
        config.addinivalue_line("filterwarnings", line)


_SELECTED = pytest.StashKey[list[str]]()
_PROVISION = pytest.StashKey[str]()
_PAIRS = pytest.StashKey[list[tuple[str, str]]]()
_REPORTER = pytest.StashKey[MatrixReporter]()


#: the clients every scenario runs for (``client_kind`` in the test id)
CLIENT_KINDS = ("threaded", "asyncio")
# suites that stay threaded: they SIGKILL private brokers or nodes of clusters (their clients
# are built by their own harness, not by make_client)
_THREADED_SUITES = ("test_chaos.py", "test_clusters.py", "test_containers.py")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "broker_name" in metafunc.fixturenames:
        # tcp keeps the plain broker id (test_x[rabbitmq]); ws adds "-ws" (test_x[rabbitmq-ws])
        if "transport" in metafunc.fixturenames:  # through the broker fixture
            pairs = metafunc.config.stash[_PAIRS]
            ids = [n if t == "tcp" else f"{n}-{t}" for n, t in pairs]
            metafunc.parametrize(("broker_name", "transport"), pairs, ids=ids, scope="session")
        else:  # uses only the broker's name (e.g. its container definition)
            names = metafunc.config.stash[_SELECTED]
            metafunc.parametrize("broker_name", names, ids=names, scope="session")
    if (
        "make_client" in metafunc.fixturenames
        and metafunc.definition.get_closest_marker("threaded_only") is None
        and metafunc.definition.path.name not in _THREADED_SUITES
    ):
        metafunc.parametrize("client_kind", CLIENT_KINDS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything here ``integration`` (the asyncio cases of known aio gaps also
    ``xfail``: ``tests/sync_aio.AIO_KNOWN_BUGS``); run ``slow`` (broker restarts) last,
    grouped by scenario so each broker is restarted once per scenario."""
    ours = [i for i in items if "integration" in i.nodeid.split("::")[0].split("/")[0]]
    for item in ours:
        item.add_marker(pytest.mark.integration)
    mark_aio_known_bugs(ours)
    fast = [i for i in items if i.get_closest_marker("slow") is None]
    slow = [i for i in items if i.get_closest_marker("slow") is not None]
    items[:] = fast + slow


# ---------------------------------------------------------------- provisioning


@dataclass
class Provisioned:
    """The outcome of provisioning: a usable :class:`Broker` or why there is none, and how
    to stop/start each broker (for the failover scenarios)."""

    mode: str
    brokers: dict[str, Broker] = field(default_factory=dict)
    lifecycle: SessionBrokers | None = None  # local mode: what the session started
    problems: dict[str, str] = field(default_factory=dict)
    containers: dict[str, Any] = field(default_factory=dict)

    def stop(self, name: str) -> None:
        """Stop a broker (stop.sh, or ``docker stop``)."""
        if name in self.containers:
            self.containers[name].stop_broker()
            return
        _script("stop.sh", name, _STOP_TIMEOUT)

    def start(self, name: str) -> None:
        """Start a broker again and wait until it answers (start.sh, or ``docker start``)."""
        if name in self.containers:
            self.containers[name].start_broker()
            return
        _script("start.sh", name, _START_TIMEOUT)


def _script(script: str, name: str, timeout: float) -> None:
    path = settings.BROKERS_DIR / script
    try:
        done = subprocess.run(
            ["bash", str(path), name], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{script} {name} did not finish within {timeout:g}s") from exc
    if done.returncode != 0:
        raise RuntimeError(
            f"{script} {name} exited {done.returncode}: {(done.stderr or done.stdout)[-800:]}"
        )


def _answering(name: str) -> bool:
    broker = settings.load_brokers()[name]  # start.sh may have rewritten brokers.env
    return settings.port_open(broker.host, broker.port)


def _run_script(script: str, name: str) -> None:
    _script(script, name, _START_TIMEOUT if script == "start.sh" else _STOP_TIMEOUT)


def _provision_local(names: list[str], mode: str) -> Provisioned:
    result = Provisioned(mode, lifecycle=SessionBrokers(_answering, _run_script))
    assert result.lifecycle is not None
    known = settings.load_brokers()
    for name in names:
        broker = known[name]
        problem = result.lifecycle.ensure(name, may_start=mode != "none")
        if problem is not None:
            result.problems[name] = f"{name}: {problem} on {broker.host}:{broker.port}"
    known = settings.load_brokers()  # start.sh rewrites brokers.env / versions.json
    for name in names:
        if name in result.problems:
            continue
        broker = known[name]
        if settings.port_open(broker.host, broker.port):
            result.brokers[name] = broker
        else:
            result.problems[name] = f"{name}: {broker.host}:{broker.port} still does not answer"
    return result


def _provision_containers(names: list[str]) -> Provisioned:
    from integration import containers

    result = Provisioned("containers")
    if not containers.docker_available():
        for name in names:
            result.problems[name] = (
                f"{name}: --provision=containers but no Docker engine/testcontainers is available"
            )
        return result
    known = settings.load_brokers()
    for name in names:
        try:
            running = containers.start(known[name])
        except Exception as exc:
            result.problems[name] = f"{name}: container failed: {exc}"
            continue
        result.containers[name] = running
        result.brokers[name] = running.broker
    return result


@pytest.fixture(scope="session")
def provisioned(pytestconfig: pytest.Config) -> Iterator[Provisioned]:
    """Make every selected broker reachable once per session (bounded)."""
    names = pytestconfig.stash[_SELECTED]
    mode = pytestconfig.stash[_PROVISION]
    result = _provision_containers(names) if mode == "containers" else _provision_local(names, mode)
    reporter = pytestconfig.stash[_REPORTER]
    reporter.versions.update({n: b.version for n, b in result.brokers.items()})
    pytestconfig.stash[_PROVISIONED] = result
    try:
        yield result
    finally:
        for running in result.containers.values():
            running.remove()
        if result.lifecycle is not None:
            result.lifecycle.finish(keep=_keep_brokers(pytestconfig))


_PROVISIONED = pytest.StashKey[Provisioned]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """What the session did with the brokers: stopped those it started, or what is left
    running and the command that stops it."""
    result = config.stash.get(_PROVISIONED, None)
    if result is None or result.lifecycle is None:
        return
    lines = result.lifecycle.summary(keep=_keep_brokers(config))
    if lines:
        terminalreporter.section("integration brokers")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def transport() -> str:
    """``tcp`` or ``ws`` (parametrized with ``broker_name``, see pytest_generate_tests)."""
    return "tcp"


@pytest.fixture
def broker(broker_name: str, transport: str, provisioned: Provisioned) -> Broker:
    """The broker of this parametrization, its :attr:`~Broker.url` over ``transport``;
    fails (CI) or skips (elsewhere) when unreachable."""
    problem = provisioned.problems.get(broker_name)
    if problem is None and broker_name in provisioned.brokers:
        found = provisioned.brokers[broker_name]
        port = found.port if transport == "tcp" else found.ws_port
        if port is not None and settings.port_open(found.host, port):
            return found.over("ws" if transport == "ws" else "tcp")
        problem = f"{broker_name}: {found.host}:{port} ({transport}) stopped answering"
    problem = problem or f"{broker_name} was not provisioned"
    if _in_ci():
        pytest.fail(f"broker unavailable in CI: {problem}")
    pytest.skip(f"broker unavailable: {problem} (set CI=1 to make this a failure)")


# ---------------------------------------------------------------- clients and names


ClientFactory = Callable[..., Client]


@pytest.fixture
def client_kind() -> str:
    """``threaded`` unless the scenario is parametrized for both clients (see the module
    docstring)."""
    return "threaded"


def _build(
    broker: Broker,
    kind: str,
    made: list[Any],
    *,
    url: str | None = None,
    connect: bool = True,
    **options: Any,
) -> Any:
    """A client of ``kind`` for ``broker`` with the suite's defaults, recorded in ``made``."""
    options.setdefault("login", broker.login)
    options.setdefault("passcode", broker.passcode)
    options.setdefault("vhost", broker.vhost)
    options.setdefault("timeouts", {"receipt": 20.0, "connect": 10.0, "connected": 10.0})
    for key, value in broker.transport_options.items():  # ActiveMQ over ws: text only
        options.setdefault(key, value)
    client: Any = (
        Client(url or broker.url, **options)
        if kind == "threaded"
        else SyncAioClient(url or broker.url, **options)
    )
    made.append(client)
    if connect:
        client.connect()
    return client


def _close_all(made: list[Any]) -> None:
    for client in reversed(made):
        if isinstance(client, SyncAioClient):
            client.close()
        else:
            client.disconnect()


@pytest.fixture
def make_client(broker: Broker, client_kind: str) -> Iterator[ClientFactory]:
    """``make_client(**options)``: a client of ``client_kind`` for this broker (not yet
    connected unless ``connect=True``, the default); every one is disconnected at teardown."""
    made: list[Any] = []
    try:
        yield lambda **options: _build(broker, client_kind, made, **options)
    finally:
        _close_all(made)


@pytest.fixture
def make_clients(
    broker: Broker, request: pytest.FixtureRequest
) -> Iterator[Callable[..., dict[str, Any]]]:
    """``make_clients(**options)``: one client of each kind (``{"threaded": ...,
    "asyncio": ...}``, options as for ``make_client``), for a scenario whose cost is a wait
    or a broker restart both clients can share; the matrix shows it as client ``both``."""
    request.node.user_properties.append(("client", "both"))
    made: list[Any] = []
    try:

        def both(**options: Any) -> dict[str, Any]:
            return {kind: _build(broker, kind, made, **options) for kind in CLIENT_KINDS}

        yield both
    finally:
        _close_all(made)


@pytest.fixture
def client(make_client: ClientFactory) -> Client:
    """A connected client with default options."""
    return make_client()


@pytest.fixture
def names(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``names("queue")`` -> ``/queue/it-<test>-<uuid>``: unique per call (Apollo holds receipts
    for full queues; RabbitMQ rewrites destinations; runs must not see each other)."""
    base = request.node.originalname.removeprefix("test_").replace("_", "-")[:30]

    def make(kind: str = "queue") -> str:
        return f"/{kind}/it-{base}-{uuid.uuid4().hex[:12]}"

    return make


# ---------------------------------------------------------------- leak check


def _open_sockets() -> set[str]:
    found: set[str] = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


@pytest.fixture(autouse=True)
def no_leaks(provisioned: Provisioned) -> Iterator[None]:
    """Fail a test that leaves a thread or a socket of this process behind (after a grace
    period). Depends on ``provisioned`` so session-wide resources (a Docker client) are
    already there when the snapshot is taken."""
    with leak_check():
        yield


@contextlib.contextmanager
def leak_check() -> Iterator[None]:
    """Fail when the block leaves a thread or a socket of this process behind (after a
    grace period)."""
    threads_before = set(threading.enumerate())
    sockets_before = _open_sockets()
    yield
    deadline = time.monotonic() + _LEAK_GRACE
    while True:
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        gc.collect()
        sockets = _open_sockets() - sockets_before
        if not threads and not sockets:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = []
    if threads:
        problems.append("threads left running: " + ", ".join(t.name for t in threads))
    if sockets:
        problems.append(f"{len(sockets)} socket(s) left open")
    pytest.fail("; ".join(problems))
