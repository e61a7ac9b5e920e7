"""benchmarks/charts.py: SVG charts from the end-to-end benchmark's JSON, and the committed ones."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from benchmarks import charts

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def entry(rate: float | None, cpu: float | None = 5.0, **extra: object) -> dict[str, object]:
    return {"status": "ok", "msgs_per_s": rate, "cpu_us_per_msg": cpu, **extra}


def sample() -> dict[str, object]:
    """A run with a client the charts do not know yet (an asyncio variant), an n/a cell and
    a WRONG one, as the e2e harness writes them."""
    summary = {
        "produce": {
            "raw": entry(60_000),
            "ours": entry(59_000),
            "ours-aio": entry(50_000),
            "stomp.py": entry(40_000),
        },
        "consume": {
            "raw": entry(30_000),
            "ours": entry(29_000),
            "ours-aio": {"status": "WRONG", "msgs_per_s": 1.0},
            "stomp.py": entry(9_000),
        },
        "threads": {"ours": entry(35_000), "stompest": {"status": "n/a"}},
        "latency": {
            "raw": entry(2000, p50_ms=1.4, p99_ms=120.0),
            "ours": entry(2000, p50_ms=0.8, p99_ms=100.0),
        },
        "rss": {"ours": entry(None)},
    }
    return {
        "settings": {"count": 1000},
        "brokers": {"mq": {"version": "1.0", "summary": summary}},
    }


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_render_draws_produce_consume_and_latency_for_every_broker(tmp_path: Path) -> None:
    data = tmp_path / "run.json"
    data.write_text(json.dumps(sample()))
    written = charts.render(data)
    assert [p.name for p in written] == [
        "run-mq-produce.svg",
        "run-mq-consume.svg",
        "run-mq-latency.svg",
    ]
    produce = svg_texts(tmp_path / "run-mq-produce.svg")
    assert {"raw", "ours", "ours-aio", "stomp.py"} <= set(produce)  # the legend
    assert "produce, 16 threads" in produce
    assert any("produce: mq 1.0, N = 1,000" in t for t in produce)
    consume = svg_texts(tmp_path / "run-mq-consume.svg")
    assert "consume, ACK each" in consume
    latency = " ".join(svg_texts(tmp_path / "run-mq-latency.svg"))
    assert "p50 0.80" in latency
    assert "p99 100.0" in latency


def test_the_charts_are_reproducible(tmp_path: Path) -> None:
    data = tmp_path / "run.json"
    data.write_text(json.dumps(sample()))
    first = [p.read_bytes() for p in charts.render(data)]
    second = [p.read_bytes() for p in charts.render(data)]
    assert first == second
    assert b"<dc:date>" not in first[0]


def test_cases_and_clients_sort_into_charts() -> None:
    assert charts.kind_of("produce-tracked") == "produce"
    assert charts.kind_of("receipt-pipelined") == "produce"
    assert charts.kind_of("ack-tx") == "consume"
    assert charts.kind_of("latency") == "latency"
    assert charts.kind_of("rss") is None
    summary = {"produce": {"zzz": {}, "stompest": {}, "ours": {}, "raw": {}}}
    assert charts.clients_of(summary) == ["raw", "ours", "stompest", "zzz"]


def test_main_without_data_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(charts, "DATA_DIR", tmp_path)
    assert charts.main([]) == 1
    assert "no benchmark JSON" in capsys.readouterr().err


@pytest.mark.parametrize("data", sorted((DOCS / "bench").glob("*.json")), ids=lambda p: p.name)
def test_the_committed_charts_come_with_their_json_and_are_shown(data: Path) -> None:
    page = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    brokers = json.loads(data.read_text(encoding="utf-8"))["brokers"]
    assert brokers
    for broker, info in brokers.items():
        # a run without the latency case (the asyncio section) has no latency chart
        kinds = [k for k in charts.KINDS if k != "latency" or "latency" in info["summary"]]
        for kind in kinds:
            svg = charts.chart_path(data, broker, kind)
            assert svg.exists(), f"{svg.name}: run python -m benchmarks.charts"
            assert f"(bench/{svg.name})" in page
    shown = set(re.findall(r"\(bench/([^)]+\.svg)\)", page))
    assert {p.name for p in (DOCS / "bench").glob("*.svg")} == shown


def test_websocket_run_draws_the_broker_cpu_panel_and_its_label(tmp_path: Path) -> None:
    summary = {
        "produce": {
            "ours-tcp": entry(40_000, broker_cpu_us_per_msg=14.0),
            "ours-ws": entry(38_000, broker_cpu_us_per_msg=15.0),
            "stomp.py-ws": entry(15_000, cpu=25.0, broker_cpu_us_per_msg=26.0),
        },
        "consume": {"ours-tcp": entry(30_000), "ours-ws": entry(29_000)},  # no broker PID
    }
    data = tmp_path / "ws.json"
    data.write_text(
        json.dumps(
            {
                "label": "over WebSocket",
                "settings": {"count": 20_000},
                "brokers": {"artemis": {"version": "2.40.0", "summary": summary}},
            }
        )
    )
    assert [p.name for p in charts.render(data)] == [
        "ws-artemis-produce.svg",
        "ws-artemis-consume.svg",
    ]
    produce = svg_texts(tmp_path / "ws-artemis-produce.svg")
    assert "produce over WebSocket: artemis 2.40.0, N = 20,000" in produce
    assert {"ours-tcp", "ours-ws", "stomp.py-ws"} <= set(produce)  # the legend
    assert "broker CPU µs per message (lower is better)" in produce
    consume = svg_texts(tmp_path / "ws-artemis-consume.svg")
    assert "client CPU µs per message (lower is better)" in consume
    assert "broker CPU µs per message (lower is better)" not in consume
