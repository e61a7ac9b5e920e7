"""What the integration suite knows about ActiveMQ Classic (``integration/settings.py``) and how
its private instances are configured (``integration/chaos.py``): the Apache distribution that
``integration/brokers/install.sh`` unpacks, with a ``ws`` connector and log4j2 logging."""

from __future__ import annotations

import subprocess
from pathlib import Path

from integration import chaos, settings
from integration.cluster_activemq import ActiveMQNode
from integration.websocket_brokers import WS_MAX_TEXT, PrivateWebActiveMQ

LIB_SH = settings.BROKERS_DIR / "lib.sh"


def isolated(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with an empty state dir: only ports.env's defaults and ``extra``."""
    return {"STOMP_BROKERS_DIR": str(tmp_path / "state"), **extra}


def test_activemq_serves_stomp_over_websocket_in_text_mode_by_default(tmp_path: Path) -> None:
    activemq = settings.load_brokers(isolated(tmp_path))["activemq"]
    assert activemq.ws_port == 61715
    over_ws = activemq.over("ws")
    assert over_ws.url == "ws://127.0.0.1:61715/"
    assert over_ws.text_only
    assert over_ws.max_frame == 8 * 1024 * 1024
    assert not activemq.text_only  # tcp
    # the port follows the environment; 0 = no ws connector
    brokers = settings.load_brokers(isolated(tmp_path, ACTIVEMQ_WS_PORT="61815"))
    assert brokers["activemq"].over("ws").url == "ws://127.0.0.1:61815/"
    assert (
        settings.load_brokers(isolated(tmp_path, ACTIVEMQ_WS_PORT="0"))["activemq"].ws_port is None
    )


def test_activemq_oversize_error_names_the_broker_text_and_the_writers_view(
    tmp_path: Path,
) -> None:
    """ActiveMQ sends its ERROR (tcp) or closes with 1009 (ws) and then closes the socket; a
    client still writing the 9 MiB body may see that close first (EPIPE or reset)."""
    activemq = settings.load_brokers(isolated(tmp_path))["activemq"]
    tcp = activemq.oversize_error.split("|")
    ws = activemq.over("ws").oversize_error.split("|")
    assert tcp[0] == "maximum frame size was exceeded"
    assert ws[0] == "message too big"
    for texts in (tcp, ws):
        assert {"broken pipe", "connection reset"} <= set(texts)


def test_activemq_home_is_the_unpacked_apache_distribution(tmp_path: Path) -> None:
    env = isolated(tmp_path, STOMP_BROKERS_INSTALL_DIR="/srv/b", ACTIVEMQ_VERSION="5.18.3")
    assert settings.activemq_home(env) == "/srv/b/apache-activemq-5.18.3"
    # the shell scripts agree (start.sh, versions.sh, install.sh read lib.sh / ports.env)
    shell = subprocess.run(
        ["bash", "-c", f'. "{LIB_SH}"; printf %s "$ACTIVEMQ_HOME"'],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == "/srv/b/apache-activemq-5.18.3"
    assert "/usr/share/activemq" not in str(chaos.ACTIVEMQ_HOME)


def test_private_activemq_logs_through_log4j2(tmp_path: Path) -> None:
    broker = chaos.PrivateActiveMQ(tmp_path, home=tmp_path / "home")
    broker._configure()
    props = (broker.root / "conf" / "log4j2.properties").read_text()
    assert "rootLogger.level=WARN" in props
    assert "name=org.apache.activemq.broker.BrokerService" in props
    assert not (broker.root / "conf" / "log4j.properties").exists()


def test_activemq_cluster_node_logs_the_lock_wait(tmp_path: Path) -> None:
    """The slave's "waiting a lock" line (SharedFileLocker, INFO) is how the cluster tells a
    waiting slave: it must be enabled in the log4j2 file the node reads."""
    node = ActiveMQNode(tmp_path, 1, tmp_path / "store")
    node._configure()
    props = (node.root / "conf" / chaos.LOG4J2).read_text()
    assert "name=org.apache.activemq.store.SharedFileLocker" in props


def test_private_web_activemq_has_a_ws_connector(tmp_path: Path) -> None:
    broker = PrivateWebActiveMQ(tmp_path, home=tmp_path / "home")
    broker._configure()
    xml = (broker.root / "conf" / "activemq.xml").read_text()
    assert (
        f'uri="ws://127.0.0.1:{broker.ws_port}?websocket.maxTextMessageSize={WS_MAX_TEXT}"' in xml
    )
    assert broker.home == tmp_path / "home"
    assert PrivateWebActiveMQ(tmp_path).home == chaos.ACTIVEMQ_HOME


def test_activemq_clients_over_ws_are_made_in_text_mode(tmp_path: Path) -> None:
    activemq = settings.load_brokers(isolated(tmp_path))["activemq"]
    assert activemq.over("ws").transport_options == {"websocket": {"text": True}}
    assert activemq.transport_options == {}
    assert settings.load_brokers(isolated(tmp_path))["rabbitmq"].over("ws").transport_options == {}
