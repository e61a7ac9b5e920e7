"""Tests for stomp_enterprise.protocol.failover: URI parsing, policy defaults, the schedule."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stomp_enterprise.errors import ConfigError
from stomp_enterprise.protocol.failover import (
    HEALTHY_AFTER,
    Attempt,
    BrokerAddress,
    FailoverPolicy,
    FailoverUri,
    ReconnectSchedule,
    parse_uri,
)

# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def take(schedule: ReconnectSchedule, startup: bool, count: int) -> list[Attempt]:
    return list(itertools.islice(schedule.attempts(startup), count))


def pass_delays(attempts: list[Attempt]) -> list[float]:
    """The delay of the first attempt of each pass."""
    seen: dict[int, float] = {}
    for attempt in attempts:
        seen.setdefault(attempt.attempt, attempt.delay)
    return [seen[number] for number in sorted(seen)]


def passes(attempts: list[Attempt]) -> list[list[str]]:
    grouped: dict[int, list[str]] = {}
    for attempt in attempts:
        grouped.setdefault(attempt.attempt, []).append(attempt.broker.host)
    return [grouped[number] for number in sorted(grouped)]


THREE = "failover:(tcp://a:1,tcp://b:2,tcp://c:3)"

# ------------------------------------------------------------------------------------------
# BrokerAddress
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "scheme", "host", "port", "ssl", "url"),
    [
        ("tcp://h:61613", "tcp", "h", 61613, False, "tcp://h:61613"),
        ("ssl://h:1", "ssl", "h", 1, True, "ssl://h:1"),
        ("stomp://h:65535", "stomp", "h", 65535, False, "stomp://h:65535"),
        ("stomp+ssl://h:61612", "stomp+ssl", "h", 61612, True, "stomp+ssl://h:61612"),
        ("tcp://h", "tcp", "h", 61613, False, "tcp://h:61613"),
        ("stomp://h", "stomp", "h", 61613, False, "stomp://h:61613"),
        ("ssl://h", "ssl", "h", 61614, True, "ssl://h:61614"),
        ("stomp+ssl://h", "stomp+ssl", "h", 61614, True, "stomp+ssl://h:61614"),
        ("TCP://Broker.Example.COM:5", "tcp", "broker.example.com", 5, False, None),
        ("tcp://[::1]:61613", "tcp", "::1", 61613, False, "tcp://[::1]:61613"),
        ("tcp://[::1]", "tcp", "::1", 61613, False, "tcp://[::1]:61613"),
        ("ssl://[FE80:0::0:1]:7", "ssl", "fe80::1", 7, True, "ssl://[fe80::1]:7"),
        ("tcp://10.0.0.1:9/", "tcp", "10.0.0.1", 9, False, "tcp://10.0.0.1:9"),
        ("  tcp://h:1  ", "tcp", "h", 1, False, "tcp://h:1"),
    ],
)
def test_broker_parse(
    uri: str, scheme: str, host: str, port: int, ssl: bool, url: str | None
) -> None:
    broker = BrokerAddress.parse(uri)
    assert (broker.scheme, broker.host, broker.port, broker.use_ssl) == (scheme, host, port, ssl)
    if url is not None:
        assert broker.url == url
    assert BrokerAddress.parse(broker.to_uri()) == broker


def test_broker_options_kept_and_encoded() -> None:
    broker = BrokerAddress.parse("tcp://h:1?transport.x=y&other=a%26b")
    assert broker.options == {"transport.x": "y", "other": "a&b"}
    assert broker.url == "tcp://h:1"
    assert BrokerAddress.parse(broker.to_uri()) == broker


def test_broker_direct_construction_and_brackets() -> None:
    assert BrokerAddress(scheme="tcp", host="[::1]", port=1).host == "::1"
    assert BrokerAddress(scheme="SSL", host="h").port == 61614
    assert BrokerAddress(scheme="tcp", host="h", port="42").port == 42


def test_broker_is_frozen_and_hashable() -> None:
    broker = BrokerAddress.parse("tcp://h:1?a=b")
    with pytest.raises(ValidationError):
        broker.port = 2  # type: ignore[misc]
    assert {broker, BrokerAddress.parse("tcp://h:1?a=b")} == {broker}


@pytest.mark.parametrize(
    ("uri", "fragments"),
    [
        ("http://h:1", ["scheme", "'http'"]),
        ("h:1", ["no scheme"]),
        ("tcp://:61613", ["host", "empty"]),
        ("tcp://", ["host", "empty"]),
        ("tcp://my host:1", ["host", "whitespace"]),
        ("tcp://[::1:1", ["host", "unbalanced"]),
        ("tcp://::1]:1", ["host", "unbalanced"]),
        ("tcp://[::1]x", ["host", "after ']'"]),
        ("tcp://::1", ["host", "brackets"]),
        ("tcp://[nothex::zz]:1", ["host", "IPv6"]),
        ("tcp://[example.com]:1", ["host", "only for IPv6"]),
        ("tcp://ho$t:1", ["host", "'ho$t'"]),
        ("tcp://u:p@h:1", ["user"]),
        ("tcp://h:0", ["port", "'0'", "range"]),
        ("tcp://h:65536", ["port", "'65536'", "range"]),
        ("tcp://h:-1", ["port", "'-1'"]),
        ("tcp://h:abc", ["port", "'abc'"]),
        ("tcp://h:", ["port", "empty"]),
        ("tcp://h:1/path", ["path", "/path"]),
        ("tcp://h:1#frag", ["fragment"]),
        ("tcp://h:1?novalue", ["option", "novalue"]),
        ("tcp://h:1?=x", ["option", "empty name"]),
        ("tcp://h:1?a=1&a=2", ["option", "'a'", "more than once"]),
    ],
)
def test_broker_errors_name_the_part(uri: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        BrokerAddress.parse(uri)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"scheme": "udp", "host": "h", "port": 1}, "scheme"),
        ({"scheme": "tcp", "host": "", "port": 1}, "host"),
        ({"scheme": "tcp", "host": 5, "port": 1}, "host"),
        ({"scheme": "tcp", "host": "h", "port": 0}, "port"),
        ({"scheme": "tcp", "host": "h", "port": True}, "port"),
        ({"scheme": "tcp", "host": "h", "port": 1.5}, "port"),
        ({"scheme": "tcp", "host": "h", "options": {"": "x"}}, "option"),
        ({"scheme": "tcp", "host": "h", "options": {"a": 1}}, "option"),
        ({"scheme": "tcp", "host": "h", "options": "a=b"}, "options"),
    ],
)
def test_broker_construction_errors(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        BrokerAddress(**kwargs)


# ------------------------------------------------------------------------------------------
# FailoverPolicy
# ------------------------------------------------------------------------------------------


def test_policy_defaults_are_activemq_defaults() -> None:
    policy = FailoverPolicy()
    assert policy.initial_reconnect_delay == 10
    assert policy.max_reconnect_delay == 30000
    assert policy.use_exponential_back_off is True
    assert policy.reconnect_delay_exponent == 2.0
    assert policy.max_reconnect_attempts == -1
    assert policy.startup_max_reconnect_attempts == -1
    assert policy.randomize is True
    assert policy.priority_backup is False
    assert policy.priority_uris == ()
    assert policy.timeout == -1
    assert policy.reconnect_delay_jitter == 0
    assert policy.to_options() == {}
    assert parse_uri("failover:(tcp://a:1)").policy == policy


def test_policy_accepts_aliases_names_and_strings() -> None:
    by_alias = FailoverPolicy(
        initialReconnectDelay="5",
        useExponentialBackOff="FALSE",
        backOffMultiplier="1.5",
        randomize="True",
        maxReconnectAttempts="-1",
    )
    by_name = FailoverPolicy(
        initial_reconnect_delay=5,
        use_exponential_back_off=False,
        reconnect_delay_exponent=1.5,
        randomize=True,
        max_reconnect_attempts=-1,
    )
    assert by_alias == by_name
    assert FailoverPolicy(reconnectDelayExponent=3).reconnect_delay_exponent == 3.0
    assert by_alias.model_dump(by_alias=True)["reconnectDelayExponent"] == 1.5


def test_policy_is_frozen() -> None:
    with pytest.raises(ValidationError):
        FailoverPolicy().randomize = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"initialReconnectDelay": -1}, ["initialReconnectDelay", "-1"]),
        ({"maxReconnectDelay": "-5"}, ["maxReconnectDelay", "'-5'"]),
        ({"reconnectDelayJitter": -2}, ["reconnectDelayJitter", "-2"]),
        ({"initialReconnectDelay": "ten"}, ["initialReconnectDelay", "'ten'"]),
        ({"initialReconnectDelay": 1.5}, ["initialReconnectDelay", "1.5"]),
        ({"initialReconnectDelay": True}, ["initialReconnectDelay", "True"]),
        ({"reconnectDelayExponent": 0.5}, ["reconnectDelayExponent", "0.5"]),
        ({"backOffMultiplier": "nan"}, ["reconnectDelayExponent", "'nan'"]),
        ({"reconnectDelayExponent": "inf"}, ["reconnectDelayExponent", "'inf'"]),
        ({"reconnectDelayExponent": "x"}, ["reconnectDelayExponent", "'x'"]),
        ({"maxReconnectAttempts": -2}, ["maxReconnectAttempts", "-2"]),
        ({"startupMaxReconnectAttempts": "-3"}, ["startupMaxReconnectAttempts", "'-3'"]),
        ({"timeout": -7}, ["timeout", "-7"]),
        ({"randomize": "yes"}, ["randomize", "'yes'"]),
        ({"priorityBackup": 1}, ["priorityBackup", "1"]),
        ({"useExponentialBackOff": "0"}, ["useExponentialBackOff", "'0'"]),
        ({"priorityURIs": "http://x"}, ["priorityURIs", "scheme"]),
        ({"priorityURIs": "tcp://a:1?x=y"}, ["priorityURIs", "options"]),
        ({"priorityURIs": "tcp://a:1,tcp://a:1"}, ["priorityURIs", "twice"]),
        ({"priorityURIs": 5}, ["priorityURIs"]),
        ({"bogus": 1}, ["'bogus'", "valid options", "initialReconnectDelay"]),
        ({"initialreconnectdelay": 1}, ["did you mean 'initialReconnectDelay'"]),
        ({"backOffMultiplier": 2, "reconnectDelayExponent": 3}, ["more than once"]),
        ({"randomize": True, "randomize_": 1}, ["'randomize_'"]),
        ({"initial_reconnect_delay": 1, "initialReconnectDelay": 2}, ["more than once"]),
    ],
)
def test_policy_errors_name_the_option(kwargs: dict[str, object], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        FailoverPolicy(**kwargs)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_policy_error_context() -> None:
    with pytest.raises(ConfigError) as info:
        FailoverPolicy(initialReconnectDelay=-1)
    assert info.value.context == {"option": "initialReconnectDelay", "value": -1}


# ------------------------------------------------------------------------------------------
# parse_uri
# ------------------------------------------------------------------------------------------


def test_parse_activemq_form() -> None:
    uri = parse_uri(
        "failover:(tcp://h1:61613,ssl://h2:61614,stomp+ssl://[::1]:61612)"
        "?initialReconnectDelay=100&maxReconnectDelay=5000&useExponentialBackOff=false"
        "&reconnectDelayExponent=3&maxReconnectAttempts=4&startupMaxReconnectAttempts=2"
        "&randomize=false&priorityBackup=true&timeout=3000&reconnectDelayJitter=7"
    )
    assert [b.url for b in uri.brokers] == [
        "tcp://h1:61613",
        "ssl://h2:61614",
        "stomp+ssl://[::1]:61612",
    ]
    assert uri.policy == FailoverPolicy(
        initial_reconnect_delay=100,
        max_reconnect_delay=5000,
        use_exponential_back_off=False,
        reconnect_delay_exponent=3.0,
        max_reconnect_attempts=4,
        startup_max_reconnect_attempts=2,
        randomize=False,
        priority_backup=True,
        timeout=3000,
        reconnect_delay_jitter=7,
    )


def test_parse_without_parentheses() -> None:
    uri = parse_uri("failover:tcp://h1:61613,tcp://h2:61613")
    assert [b.host for b in uri.brokers] == ["h1", "h2"]
    assert uri.policy == FailoverPolicy()
    uri = parse_uri("failover:tcp://h1,tcp://h2?randomize=false&maxReconnectAttempts=2")
    assert [b.port for b in uri.brokers] == [61613, 61613]
    assert uri.policy.randomize is False
    assert uri.policy.max_reconnect_attempts == 2


def test_parse_stompest_comma_options() -> None:
    uri = parse_uri("failover:(tcp://a:1,tcp://b:2)?randomize=false,startupMaxReconnectAttempts=3")
    assert uri.policy.randomize is False
    assert uri.policy.startup_max_reconnect_attempts == 3
    assert uri.policy.max_reconnect_attempts == -1


def test_parse_mixed_separators_and_backoff_multiplier() -> None:
    uri = parse_uri("failover:(tcp://a:1)?randomize=false&backOffMultiplier=1.5,timeout=10")
    assert uri.policy.reconnect_delay_exponent == 1.5
    assert uri.policy.timeout == 10


def test_parse_priority_uris_in_both_separator_styles() -> None:
    brokers = "failover:(tcp://a:1,tcp://b:2,tcp://c:3)"
    amp = parse_uri(
        f"{brokers}?priorityBackup=true&priorityURIs=tcp://b:2,tcp://c:3&randomize=false"
    )
    comma = parse_uri(
        f"{brokers}?priorityBackup=true,priorityURIs=tcp://b:2,tcp://c:3,randomize=false"
    )
    assert amp == comma
    assert [b.url for b in amp.policy.priority_uris] == ["tcp://b:2", "tcp://c:3"]
    assert amp.policy.randomize is False


def test_parse_broker_options_inside_parentheses() -> None:
    uri = parse_uri("failover:(tcp://a:1?transport.x=y&k=v,tcp://b:2)?randomize=false")
    assert uri.brokers[0].options == {"transport.x": "y", "k": "v"}
    assert uri.brokers[1].options == {}


@pytest.mark.parametrize("scheme", ["tcp", "ssl", "stomp", "stomp+ssl"])
def test_parse_single_uri_means_no_retry(scheme: str) -> None:
    uri = parse_uri(f" {scheme}://host:1234?transport.x=y ")
    assert uri.brokers == (
        BrokerAddress(scheme=scheme, host="host", port=1234, options={"transport.x": "y"}),
    )
    assert uri.policy.max_reconnect_attempts == 0
    assert uri.policy.startup_max_reconnect_attempts == 0
    assert uri.policy.initial_reconnect_delay == 10
    assert uri.to_uri() == f"{scheme}://host:1234?transport.x=y"


def test_parse_whitespace_and_case() -> None:
    uri = parse_uri("  FAILOVER:( tcp://A:1 , tcp://b:2 )? randomize = FALSE & timeout=5 \n")
    assert [b.host for b in uri.brokers] == ["a", "b"]
    assert uri.policy.randomize is False
    assert uri.policy.timeout == 5


def test_parse_ipv6_list() -> None:
    uri = parse_uri("failover:(tcp://[::1]:61613,ssl://[2001:db8::1],tcp://127.0.0.1)")
    assert [b.url for b in uri.brokers] == [
        "tcp://[::1]:61613",
        "ssl://[2001:db8::1]:61614",
        "tcp://127.0.0.1:61613",
    ]


@pytest.mark.parametrize(
    ("uri", "fragments"),
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("failover:()", ["empty broker list"]),
        ("failover:", ["empty broker list"]),
        ("failover:()?randomize=false", ["empty broker list"]),
        ("failover:(tcp://a:1,,tcp://b:2)", ["position 2"]),
        ("failover:(tcp://a:1,)", ["position 2"]),
        ("failover:(tcp://a:1", ["unbalanced", "')'"]),
        ("failover:tcp://a:1)", ["unbalanced"]),
        ("failover:((tcp://a:1))", ["nested"]),
        ("failover:(tcp://a:1)x", ["'x'", "after ')'"]),
        ("failover:(http://a:1)", ["scheme", "'http'"]),
        ("failover:(tcp://a:1,tcp://b:99999)", ["port", "'99999'"]),
        ("failover:(tcp://a:1,tcp://[::1)", ["host", "unbalanced"]),
        ("failover:(tcp://a:1,tcp://a:1)", ["tcp://a:1", "more than once"]),
        ("failover:(tcp://a,tcp://a:61613)", ["tcp://a:61613", "more than once"]),
        ("failover:(tcp://a:1)?foo=bar", ["'foo'", "valid options", "randomize"]),
        ("failover:(tcp://a:1)?Randomize=true", ["'Randomize'", "did you mean 'randomize'"]),
        ("failover:(tcp://a:1)?randomize", ["'randomize'", "name=value"]),
        ("failover:(tcp://a:1)?randomize=true&randomize=false", ["randomize", "more than once"]),
        (
            "failover:(tcp://a:1)?backOffMultiplier=2&reconnectDelayExponent=2",
            ["reconnectDelayExponent", "more than once", "backOffMultiplier"],
        ),
        ("failover:(tcp://a:1)?initialReconnectDelay=-10", ["initialReconnectDelay", "'-10'"]),
        ("failover:(tcp://a:1)?maxReconnectDelay=abc", ["maxReconnectDelay", "'abc'"]),
        ("failover:(tcp://a:1)?reconnectDelayExponent=0.9", ["reconnectDelayExponent", "'0.9'"]),
        ("failover:(tcp://a:1)?maxReconnectAttempts=-2", ["maxReconnectAttempts", "'-2'"]),
        ("failover:(tcp://a:1)?startupMaxReconnectAttempts=x", ["startupMaxReconnectAttempts"]),
        ("failover:(tcp://a:1)?randomize=", ["randomize", "''"]),
        ("failover:(tcp://a:1)?priorityURIs=tcp://z:9", ["priorityURIs", "tcp://z:9"]),
        ("tcp://a:1,tcp://b:2", ["failover:"]),
        ("tcp://a:1:2", ["host", "brackets"]),
    ],
)
def test_parse_errors_name_the_part(uri: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_uri(uri)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_failover_uri_construction() -> None:
    uri = FailoverUri(brokers=["tcp://a:1", BrokerAddress(scheme="ssl", host="b")])
    assert [b.url for b in uri.brokers] == ["tcp://a:1", "ssl://b:61614"]
    assert uri.policy == FailoverPolicy()
    assert FailoverUri.parse(uri.to_uri()) == uri
    with pytest.raises(ConfigError, match="no brokers"):
        FailoverUri(brokers=[])
    with pytest.raises(ConfigError, match="broker"):
        FailoverUri(brokers="tcp://a:1")
    with pytest.raises(ConfigError, match="broker"):
        FailoverUri(brokers=[42])
    with pytest.raises(ConfigError, match="initialReconnectDelay"):
        FailoverUri(brokers=["tcp://a:1"], policy={"initialReconnectDelay": -1})


def test_to_uri_lists_only_non_default_options() -> None:
    uri = parse_uri("failover:(tcp://a:1,ssl://[::1]:2)?randomize=FALSE&initialReconnectDelay=10")
    assert uri.to_uri() == "failover:(tcp://a:1,ssl://[::1]:2)?randomize=false"
    assert parse_uri("failover:(tcp://a:1)").to_uri() == "failover:(tcp://a:1)"


# ------------------------------------------------------------------------------------------
# ReconnectSchedule: delays
# ------------------------------------------------------------------------------------------


def test_exponential_delays_with_cap() -> None:
    uri = parse_uri(f"{THREE}?randomize=false&initialReconnectDelay=10&maxReconnectDelay=100")
    attempts = take(ReconnectSchedule(uri), True, 3 * 7)
    assert pass_delays(attempts) == [0.0, 0.01, 0.02, 0.04, 0.08, 0.1, 0.1]
    # within a pass only the first attempt waits
    assert [a.delay for a in attempts[3:6]] == [0.01, 0.0, 0.0]
    assert [a.attempt for a in attempts[:7]] == [1, 1, 1, 2, 2, 2, 3]


def test_exponential_delays_other_exponent() -> None:
    uri = parse_uri("failover:(tcp://a:1)?reconnectDelayExponent=1.5&initialReconnectDelay=100")
    delays = pass_delays(take(ReconnectSchedule(uri), False, 5))
    assert delays == pytest.approx([0.0, 0.1, 0.15, 0.225, 0.3375])


def test_default_delays_reach_30_seconds() -> None:
    delays = pass_delays(take(ReconnectSchedule(parse_uri("failover:(tcp://a:1)")), True, 20))
    assert delays[:4] == [0.0, 0.01, 0.02, 0.04]
    assert delays[-1] == 30.0
    assert max(delays) == 30.0


def test_non_exponential_delays() -> None:
    uri = parse_uri(f"{THREE}?useExponentialBackOff=false&initialReconnectDelay=50")
    assert pass_delays(take(ReconnectSchedule(uri), True, 12)) == [0.0, 0.05, 0.05, 0.05]


def test_non_exponential_delay_is_capped() -> None:
    uri = parse_uri(
        "failover:(tcp://a:1)?useExponentialBackOff=false"
        "&initialReconnectDelay=500&maxReconnectDelay=200"
    )
    assert pass_delays(take(ReconnectSchedule(uri), True, 3)) == [0.0, 0.2, 0.2]


def test_zero_initial_delay_stays_zero() -> None:
    uri = parse_uri("failover:(tcp://a:1)?initialReconnectDelay=0")
    assert pass_delays(take(ReconnectSchedule(uri), True, 5)) == [0.0] * 5


def test_reset_restarts_delays_and_pass_count() -> None:
    uri = parse_uri("failover:(tcp://a:1,tcp://b:2)?randomize=false")
    schedule = ReconnectSchedule(uri)
    first = take(schedule, True, 6)
    assert pass_delays(first) == [0.0, 0.01, 0.02]
    assert schedule.passes == 3
    # without reset, the schedule continues where it was (ActiveMQ keeps its back-off)
    assert take(schedule, False, 1)[0] == Attempt(uri.brokers[0], 0.04, 4)
    schedule.reset()
    assert schedule.passes == 0
    again = take(schedule, False, 4)
    assert pass_delays(again) == [0.0, 0.01]
    assert [a.attempt for a in again] == [1, 1, 2, 2]


# ------------------------------------------------------------------------------------------
# ReconnectSchedule: back-off across connections (connected / lost, with a given clock)
# ------------------------------------------------------------------------------------------

STORM = "failover:(tcp://a:1)?initialReconnectDelay=100&maxReconnectDelay=1000"


def _first_reconnect_delay(schedule: ReconnectSchedule) -> float:
    return take(schedule, False, 1)[0].delay


def test_a_connection_that_dies_young_keeps_backing_off() -> None:
    """CONNECTED then closed 10 ms later, again and again: the delays grow as if each try
    had failed, instead of starting over at 0 (the reconnect storm of issue 13)."""
    schedule = ReconnectSchedule(parse_uri(STORM))
    clock = 1000.0
    assert _first_reconnect_delay(schedule) == 0.0  # startup: the first pass starts at once
    delays = []
    for _ in range(7):
        schedule.connected(clock)
        clock += 0.010
        assert schedule.lost(clock) is False
        delay = _first_reconnect_delay(schedule)
        delays.append(delay)
        clock += delay
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    # the pass count started over at each CONNECTED: the broker was reachable
    assert schedule.passes == 1


def test_a_healthy_connection_resets_the_back_off() -> None:
    schedule = ReconnectSchedule(parse_uri(STORM))
    take(schedule, True, 4)  # four failed passes: the next delay would be 0.8 s
    schedule.connected(50.0)
    assert schedule.passes == 0
    assert schedule.healthy_after() == 1.0  # the 0.8 s delay is shorter than the 1 s minimum
    assert schedule.lost(51.0) is True  # 1 s of life: healthy
    assert pass_delays(take(schedule, False, 3)) == [0.0, 0.1, 0.2]


def test_healthy_means_at_least_the_current_delay() -> None:
    """With a long current delay, a connection must outlive that delay to reset it."""
    uri = parse_uri("failover:(tcp://a:1)?initialReconnectDelay=1000&maxReconnectDelay=8000")
    schedule = ReconnectSchedule(uri, healthy_after=0.5)
    take(schedule, True, 4)  # delays 0, 1, 2, 4: the next one is 8 s
    assert schedule.healthy_after() == 8.0
    schedule.connected(0.0)
    assert schedule.lost(7.9) is False
    assert _first_reconnect_delay(schedule) == 8.0
    schedule.connected(100.0)
    assert schedule.lost(108.0) is True
    assert _first_reconnect_delay(schedule) == 0.0


def test_healthy_after_is_configurable_and_defaults_to_one_second() -> None:
    assert HEALTHY_AFTER == 1.0
    schedule = ReconnectSchedule(parse_uri("failover:(tcp://a:1)"), healthy_after=0.0)
    assert schedule.healthy_after() == pytest.approx(0.01)  # the initial delay
    assert ReconnectSchedule(parse_uri("failover:(tcp://a:1)")).healthy_after() == 1.0


def test_lost_without_connected_changes_nothing() -> None:
    schedule = ReconnectSchedule(parse_uri(STORM))
    assert schedule.lost(5.0) is False
    assert _first_reconnect_delay(schedule) == 0.0
    schedule.connected(1.0)
    schedule.lost(1.001)
    assert schedule.lost(100.0) is False  # reported once: the second report is ignored
    assert _first_reconnect_delay(schedule) == 0.1


def test_reset_forgets_a_young_death() -> None:
    schedule = ReconnectSchedule(parse_uri(STORM))
    schedule.connected(1.0)
    schedule.lost(1.001)
    schedule.reset()
    assert _first_reconnect_delay(schedule) == 0.0


@given(
    st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=1, max_value=2000),
)
@settings(max_examples=100, deadline=None)
def test_back_off_across_connections_follows_the_rule(
    lifetimes: list[float], initial: int, cap: int
) -> None:
    """A reference model: after a connection of life L the first reconnect delay is 0 when
    L >= max(1 s, current delay) (and the delay starts over), else the current delay, which
    then doubles up to the cap."""
    uri = parse_uri(f"failover:(tcp://a:1)?initialReconnectDelay={initial}&maxReconnectDelay={cap}")
    schedule = ReconnectSchedule(uri)
    current = min(initial, cap) / 1000.0
    clock = 0.0
    take(schedule, True, 1)
    for life in lifetimes:
        schedule.connected(clock)
        start, clock = clock, clock + life
        healthy = clock - start >= max(HEALTHY_AFTER, current)  # the life the schedule sees
        assert schedule.lost(clock) is healthy
        if healthy:
            current = min(initial, cap) / 1000.0
            assert _first_reconnect_delay(schedule) == 0.0
        else:
            assert _first_reconnect_delay(schedule) == pytest.approx(current)
            current = min(current * 2, cap / 1000.0)
        assert schedule.passes == 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1", None, True])
def test_clock_readings_are_checked(bad: object) -> None:
    schedule = ReconnectSchedule(parse_uri(STORM))
    with pytest.raises(ConfigError, match="clock reading"):
        schedule.connected(bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="clock reading"):
        schedule.lost(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "1", True])
def test_healthy_after_is_checked(bad: object) -> None:
    with pytest.raises(ConfigError, match="healthy_after"):
        ReconnectSchedule(parse_uri(STORM), healthy_after=bad)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# ReconnectSchedule: pass counting
# ------------------------------------------------------------------------------------------


def _count_passes(query: str, startup: bool) -> int | None:
    """Passes produced, or None when more than 50 (treated as unlimited)."""
    schedule = ReconnectSchedule(parse_uri(f"{THREE}?{query}"), seed=0)
    attempts = take(schedule, startup, 3 * 51)
    assert len(attempts) % 3 == 0
    count = len(attempts) // 3
    return None if count > 50 else count


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("startupMaxReconnectAttempts=0", 1),
        ("startupMaxReconnectAttempts=1", 1),
        ("startupMaxReconnectAttempts=3", 3),
        ("startupMaxReconnectAttempts=-1", None),
        ("startupMaxReconnectAttempts=3&maxReconnectAttempts=0", 3),
        ("startupMaxReconnectAttempts=-1&maxReconnectAttempts=0", 1),
        ("startupMaxReconnectAttempts=-1&maxReconnectAttempts=1", 1),
        ("startupMaxReconnectAttempts=-1&maxReconnectAttempts=3", 3),
        ("randomize=true", None),
    ],
)
def test_startup_pass_limits(query: str, expected: int | None) -> None:
    assert _count_passes(query, startup=True) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("maxReconnectAttempts=0", 0),
        ("maxReconnectAttempts=1", 1),
        ("maxReconnectAttempts=3", 3),
        ("maxReconnectAttempts=-1", None),
        ("maxReconnectAttempts=3&startupMaxReconnectAttempts=0", 3),
        ("maxReconnectAttempts=-1&startupMaxReconnectAttempts=2", None),
    ],
)
def test_reconnect_pass_limits(query: str, expected: int | None) -> None:
    assert _count_passes(query, startup=False) == expected


def test_every_pass_tries_every_broker_once() -> None:
    uri = parse_uri(f"{THREE}?startupMaxReconnectAttempts=3")
    attempts = list(ReconnectSchedule(uri, seed=3).attempts(True))
    assert len(attempts) == 9
    for group in passes(attempts):
        assert sorted(group) == ["a", "b", "c"]


def test_max_passes() -> None:
    policy = FailoverPolicy(max_reconnect_attempts=0, startup_max_reconnect_attempts=-1)
    assert (policy.max_passes(True), policy.max_passes(False)) == (1, 0)
    policy = FailoverPolicy(max_reconnect_attempts=4, startup_max_reconnect_attempts=2)
    assert (policy.max_passes(True), policy.max_passes(False)) == (2, 4)
    assert FailoverPolicy().max_passes(True) is None


def test_single_uri_schedule() -> None:
    uri = parse_uri("tcp://only:1")
    schedule = ReconnectSchedule(uri)
    assert list(schedule.attempts(True)) == [Attempt(uri.brokers[0], 0.0, 1)]
    schedule.reset()
    assert list(schedule.attempts(False)) == []


def test_exhausted_schedule_stays_exhausted_until_reset() -> None:
    schedule = ReconnectSchedule(parse_uri("failover:(tcp://a:1)?startupMaxReconnectAttempts=2"))
    assert len(list(schedule.attempts(True))) == 2
    assert list(schedule.attempts(True)) == []
    schedule.reset()
    assert len(list(schedule.attempts(True))) == 2


def test_attempts_rejects_non_bool() -> None:
    schedule = ReconnectSchedule(parse_uri(THREE))
    with pytest.raises(ConfigError, match="startup"):
        schedule.attempts(1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="FailoverUri"):
        ReconnectSchedule("failover:(tcp://a:1)")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# ReconnectSchedule: ordering
# ------------------------------------------------------------------------------------------

FIVE = "failover:(tcp://a:1,tcp://b:2,tcp://c:3,tcp://d:4,tcp://e:5)"


def test_randomize_false_keeps_list_order() -> None:
    uri = parse_uri(f"{FIVE}?randomize=false")
    for group in passes(take(ReconnectSchedule(uri, seed=1), True, 25)):
        assert group == ["a", "b", "c", "d", "e"]


def test_randomize_is_deterministic_under_a_seed() -> None:
    uri = parse_uri(FIVE)
    first = passes(take(ReconnectSchedule(uri, seed=42), True, 50))
    second = passes(take(ReconnectSchedule(uri, seed=42), True, 50))
    assert first == second
    orders = {
        tuple(map(tuple, passes(take(ReconnectSchedule(uri, seed=s), True, 50)))) for s in range(5)
    }
    assert len(orders) > 1
    # the order is reshuffled between passes
    assert len({tuple(group) for group in first}) > 1
    for group in first:
        assert sorted(group) == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("randomize", ["true", "false"])
def test_failed_broker_goes_last(randomize: str) -> None:
    uri = parse_uri(f"{FIVE}?randomize={randomize}")
    for seed in range(10):
        schedule = ReconnectSchedule(uri, seed=seed)
        schedule.failed(uri.brokers[0])
        for group in passes(take(schedule, False, 15)):
            assert group[-1] == "a"
            assert sorted(group) == ["a", "b", "c", "d", "e"]


def test_only_the_latest_failure_counts_and_survives_reset() -> None:
    uri = parse_uri(f"{THREE}?randomize=false")
    schedule = ReconnectSchedule(uri)
    schedule.failed(uri.brokers[0])
    schedule.failed(uri.brokers[1])
    schedule.reset()
    assert passes(take(schedule, False, 3)) == [["a", "c", "b"]]


def test_failed_unknown_broker() -> None:
    schedule = ReconnectSchedule(parse_uri(THREE))
    with pytest.raises(ConfigError, match="tcp://z:9"):
        schedule.failed(BrokerAddress.parse("tcp://z:9"))


def test_priority_backup_first_listed_is_priority() -> None:
    uri = parse_uri(f"{FIVE}?priorityBackup=true")
    for seed in range(10):
        schedule = ReconnectSchedule(uri, seed=seed)
        groups = passes(take(schedule, True, 25))
        assert all(group[0] == "a" for group in groups)
        assert len({tuple(group[1:]) for group in groups}) > 1  # the rest is still shuffled


def test_priority_backup_with_priority_uris() -> None:
    uri = parse_uri(f"{FIVE}?priorityBackup=true&priorityURIs=tcp://d:4,tcp://b:2")
    schedule = ReconnectSchedule(uri, seed=7)
    for group in passes(take(schedule, True, 25)):
        assert sorted(group[:2]) == ["b", "d"]
    schedule.failed(uri.brokers[3])  # d, a priority broker
    for group in passes(take(schedule, False, 25)):
        assert group[:2] == ["b", "d"]
    schedule.failed(uri.brokers[0])  # a, not a priority broker
    for group in passes(take(schedule, False, 25)):
        assert sorted(group[:2]) == ["b", "d"]
        assert group[-1] == "a"


def test_should_return_to_priority() -> None:
    uri = parse_uri(f"{THREE}?priorityBackup=true&priorityURIs=tcp://b:2")
    schedule = ReconnectSchedule(uri)
    a, b, c = uri.brokers
    assert schedule.is_priority(b)
    assert not schedule.is_priority(a)
    assert schedule.should_return_to_priority(a) is True
    assert schedule.should_return_to_priority(b) is False
    assert schedule.should_return_to_priority(c) is True
    with pytest.raises(ConfigError, match="tcp://z:9"):
        schedule.should_return_to_priority(BrokerAddress.parse("tcp://z:9"))
    plain = ReconnectSchedule(parse_uri(THREE))
    assert plain.should_return_to_priority(c) is False
    assert plain.is_priority(a)


def test_priority_ignored_without_priority_backup() -> None:
    uri = parse_uri(f"{FIVE}?priorityURIs=tcp://e:5&randomize=false")
    assert passes(take(ReconnectSchedule(uri), True, 5)) == [["a", "b", "c", "d", "e"]]


# ------------------------------------------------------------------------------------------
# ReconnectSchedule: jitter
# ------------------------------------------------------------------------------------------


def test_jitter_bounds() -> None:
    uri = parse_uri(
        "failover:(tcp://a:1,tcp://b:2)?initialReconnectDelay=100&maxReconnectDelay=1000"
        "&reconnectDelayJitter=50"
    )
    bases = [0.0, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    seen: set[float] = set()
    for seed in range(30):
        attempts = take(ReconnectSchedule(uri, seed=seed), True, 2 * len(bases))
        delays = pass_delays(attempts)
        assert delays[0] == 0.0
        assert all(a.delay == 0.0 for a in attempts[1::2])
        for base, delay in zip(bases[1:], delays[1:], strict=True):
            assert base <= delay <= min(base + 0.05, 1.0)
        seen.add(delays[1])
    assert len(seen) > 1
    first = take(ReconnectSchedule(uri, seed=5), True, 14)
    assert first == take(ReconnectSchedule(uri, seed=5), True, 14)


# ------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------

_hostnames = st.from_regex(r"[A-Za-z0-9_-]{1,8}(\.[A-Za-z0-9_-]{1,8}){0,2}", fullmatch=True)
_hosts = st.one_of(
    _hostnames,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)
_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
_options = st.dictionaries(_text.filter(bool), _text, max_size=3)


@st.composite
def _brokers(draw: st.DrawFn) -> BrokerAddress:
    scheme = draw(st.sampled_from(["tcp", "ssl", "stomp", "stomp+ssl"]))
    port = draw(st.none() | st.integers(1, 65535))
    data: dict[str, object] = {"scheme": scheme, "host": draw(_hosts), "options": draw(_options)}
    if port is not None:
        data["port"] = port
    return BrokerAddress(**data)


@st.composite
def _failover_uris(draw: st.DrawFn) -> FailoverUri:
    brokers = draw(st.lists(_brokers(), min_size=1, max_size=5, unique_by=lambda b: b.url))
    priority = draw(st.lists(st.sampled_from(brokers), unique_by=lambda b: b.url, max_size=3))
    policy = FailoverPolicy(
        initial_reconnect_delay=draw(st.integers(0, 10**6)),
        max_reconnect_delay=draw(st.integers(0, 10**7)),
        use_exponential_back_off=draw(st.booleans()),
        reconnect_delay_exponent=draw(st.floats(1.0, 1e3, allow_nan=False)),
        max_reconnect_attempts=draw(st.integers(-1, 100)),
        startup_max_reconnect_attempts=draw(st.integers(-1, 100)),
        randomize=draw(st.booleans()),
        priority_backup=draw(st.booleans()),
        priority_uris=[BrokerAddress(scheme=b.scheme, host=b.host, port=b.port) for b in priority],
        timeout=draw(st.integers(-1, 10**6)),
        reconnect_delay_jitter=draw(st.integers(0, 10**4)),
    )
    return FailoverUri(brokers=brokers, policy=policy)


@given(_failover_uris())
@settings(max_examples=200, deadline=None)
def test_failover_uri_round_trips(uri: FailoverUri) -> None:
    text = uri.to_uri()
    parsed = parse_uri(text)
    assert parsed == uri
    assert parsed.to_uri() == text


@given(_brokers())
def test_broker_round_trips(broker: BrokerAddress) -> None:
    assert BrokerAddress.parse(broker.to_uri()) == broker
    assert parse_uri(broker.to_uri()).brokers == (broker,)


@given(st.text(max_size=60))
def test_parse_uri_raises_only_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_uri(text)


@given(st.text(alphabet="failover:()tcpsl/[]?&,=0123456789ab.", max_size=50))
def test_parse_uri_near_valid_raises_only_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_uri(text)


@given(_failover_uris(), st.integers(), st.booleans())
@settings(max_examples=100, deadline=None)
def test_schedule_invariants(uri: FailoverUri, seed: int, startup: bool) -> None:
    schedule = ReconnectSchedule(uri, seed=seed)
    count = len(uri.brokers)
    attempts = take(schedule, startup, count * 6)
    limit = uri.policy.max_passes(startup)
    expected_passes = 6 if limit is None else min(limit, 6)
    assert len(attempts) == count * expected_passes
    cap = uri.policy.max_reconnect_delay / 1000
    for index, attempt in enumerate(attempts):
        assert attempt.attempt == index // count + 1
        assert 0.0 <= attempt.delay <= cap
        if index % count:
            assert attempt.delay == 0.0
    for group in [attempts[i : i + count] for i in range(0, len(attempts), count)]:
        assert sorted(a.broker.url for a in group) == sorted(b.url for b in uri.brokers)
        if uri.policy.priority_backup:
            flags = [schedule.is_priority(a.broker) for a in group]
            assert flags == sorted(flags, reverse=True)
