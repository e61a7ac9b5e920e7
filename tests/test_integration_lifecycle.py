"""The integration session stops the brokers it started and keeps those already running
(``integration/lifecycle.py``; the conftest wires it to start.sh/stop.sh)."""

from __future__ import annotations

import socket

import pytest

from integration.lifecycle import SessionBrokers, stop_command


class FakeBrokers:
    """Brokers that answer or not, and a record of every script run."""

    def __init__(self, *running: str, failing: tuple[str, ...] = ()) -> None:
        self.up = set(running)
        self.failing = failing
        self.calls: list[tuple[str, str]] = []

    def answering(self, name: str) -> bool:
        return name in self.up

    def run_script(self, script: str, name: str) -> None:
        self.calls.append((script, name))
        if (script, name) in self.failing:
            raise RuntimeError(f"{script} {name} exited 1: boom")
        if script == "start.sh":
            self.up.add(name)
        else:
            self.up.discard(name)

    def session(self) -> SessionBrokers:
        return SessionBrokers(self.answering, self.run_script)


def test_the_session_stops_what_it_started_and_keeps_what_was_running() -> None:
    fake = FakeBrokers("activemq")
    session = fake.session()
    assert session.ensure("activemq", may_start=True) is None
    assert session.ensure("rabbitmq", may_start=True) is None
    session.finish(keep=False)
    assert fake.calls == [("start.sh", "rabbitmq"), ("stop.sh", "rabbitmq")]
    assert fake.up == {"activemq"}
    assert session.summary(keep=False) == [
        "activemq: was running before this session, kept (still running); "
        f"stop it with: {stop_command('activemq')}",
        "rabbitmq: started by this session, stopped",
    ]


def test_keep_brokers_leaves_them_running_and_says_how_to_stop_them() -> None:
    fake = FakeBrokers()
    session = fake.session()
    session.ensure("artemis", may_start=True)
    session.finish(keep=True)
    assert fake.calls == [("start.sh", "artemis")]
    assert session.summary(keep=True) == [
        "artemis: started by this session, left running (--keep-brokers); "
        "stop it with: bash integration/brokers/stop.sh artemis"
    ]


def test_provision_none_starts_nothing() -> None:
    fake = FakeBrokers()
    session = fake.session()
    assert session.ensure("apollo", may_start=False) == "nothing answers"
    session.finish(keep=False)
    assert fake.calls == []
    assert session.summary(keep=False) == []


def test_a_failed_start_is_still_stopped_and_a_failed_stop_is_reported() -> None:
    fake = FakeBrokers(failing=(("start.sh", "rabbitmq"), ("stop.sh", "rabbitmq")))
    session = fake.session()
    problem = session.ensure("rabbitmq", may_start=True)
    assert problem is not None
    assert "start.sh failed" in problem
    session.finish(keep=False)  # never raises: the tests' outcome stands
    assert fake.calls == [("start.sh", "rabbitmq"), ("stop.sh", "rabbitmq")]
    (line,) = session.summary(keep=False)
    assert "stop FAILED" in line
    assert line.endswith(stop_command("rabbitmq"))


def test_a_broker_stopped_by_a_failover_test_and_restarted_is_still_kept() -> None:
    fake = FakeBrokers("activemq")
    session = fake.session()
    session.ensure("activemq", may_start=True)
    fake.run_script("stop.sh", "activemq")  # what Provisioned.stop/start do in a scenario
    fake.run_script("start.sh", "activemq")
    session.finish(keep=False)
    assert fake.up == {"activemq"}
    assert session.stopped == []


@pytest.mark.parametrize("keep", [False, True])
def test_the_conftest_reports_a_kept_broker_in_the_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, keep: bool
) -> None:
    """The real conftest hooks in an inner session: a broker port that answers before the
    session (a plain listener here) is kept and named in the summary with its stop command;
    --keep-brokers is a known option."""
    from integration import conftest

    hooks = sorted(name for name in vars(conftest) if name.startswith("pytest_"))
    pytester.makeconftest(
        "from integration.conftest import *  # noqa: F403\n"
        f"from integration.conftest import {', '.join(hooks)}\n"
    )
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        monkeypatch.setenv("APOLLO_STOMP_PORT", str(listener.getsockname()[1]))
        args = ["-p", "no:cacheprovider", "--provision=local", "--brokers=apollo"]
        result = pytester.runpytest_inprocess(*args, *(["--keep-brokers"] if keep else []))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*integration brokers*",
            "apollo: was running before this session, kept (still running); "
            "stop it with: bash integration/brokers/stop.sh apollo",
        ]
    )
