"""Smoke test of the WebSocket benchmark (benchmarks/ws.py) on the in-process broker.

Correctness only: ours over tcp:// and ws://, and stomp.py's WebSocket transport, each move
every message in produce and consume, and the report holds the ratios the issue asks for.
No timing assertions. The harness runs in a subprocess, so nothing is left behind here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ws_benchmark_moves_every_message_for_every_peer(tmp_path: Path) -> None:
    out = tmp_path / "ws.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.ws",
            "--broker",
            "embedded",
            "--count",
            "200",
            "--size",
            "512",
            "--runs",
            "1",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    for case in ("produce", "consume"):
        for peer in ("ours tcp", "ours ws", "stomp.py ws"):
            (result,) = report["raw"][case][peer]
            assert "error" not in result, (case, peer, result)
            assert result["moved"] == 200, (case, peer, result)
        summary = report["summary"][case]
        assert set(summary) >= {"ws/tcp", "ws/stomp.py ws"}
        assert summary["ws/tcp"]["target"] == 0.8
        assert summary["ws/stomp.py ws"]["target"] == 1.5


def test_ws_codec_benchmark_runs(capsys) -> None:
    from benchmarks.ws_codec import main

    assert main(["--count", "256", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "ours send" in out
    assert "websockets receive" in out


def _report(broker: str, server: str, ws_rate: float) -> dict[str, object]:
    """A run's report as benchmarks.ws.run returns it (two cases, three peers)."""
    from benchmarks.ws import summarize

    def result(rate: float, broker_cpu: float) -> dict[str, float]:
        return {"msgs_per_s": rate, "cpu_us_per_msg": 5.0, "broker_cpu_us_per_msg": broker_cpu}

    raw = {
        case: {
            "ours tcp": [result(40_000.0, 14.0)],
            "ours ws": [result(ws_rate, 16.0)],
            "stomp.py ws": [result(10_000.0, 30.0)],
        }
        for case in ("produce", "consume")
    }
    return {
        "broker": broker,
        "server": server,
        "tcp": "tcp://127.0.0.1:1",
        "ws": "ws://127.0.0.1:1/",
        "count": 1000,
        "size": 1024,
        "runs": 1,
        "pack": "automatic",
        "date": "2026-11-30 15:00 UTC",
        "loadavg": [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]],
        "summary": summarize(raw),
    }


def test_write_docs_keeps_other_brokers_and_the_notes(tmp_path: Path) -> None:
    from benchmarks import e2e, ws

    data_path = tmp_path / "bench" / "ws.json"
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nbefore\n")
    data = ws.save_for_docs(
        _report("artemis", "ActiveMQ-Artemis/2.40.0", 30_000.0), "c1", data_path
    )
    ws.write_docs(data, page, data_path)
    text = page.read_text()
    assert text.startswith("# Benchmarks\n\nbefore\n\n" + e2e.WS_BEGIN)
    assert "### artemis 2.40.0" in text
    assert "| produce | 40,000 (5.0; 14.0) | 30,000 (5.0; 16.0) | 10,000 (5.0; 30.0) " in text
    assert "0.75 [0.75] **FAIL**" in text  # 30,000 / 40,000 against 0.8
    assert "3.00 [3.00] pass" in text
    assert "(bench/ws-artemis-produce.svg)" in text
    assert (tmp_path / "bench" / "ws-artemis-consume.svg").exists()
    # hand-written notes survive the next run, which adds a broker and keeps the first
    page.write_text(text.replace(ws.NOTES_END, "my reading\n" + ws.NOTES_END) + "after\n")
    data = ws.save_for_docs(_report("rabbitmq", "RabbitMQ/3.10.8", 50_000.0), "c2", data_path)
    ws.write_docs(data, page, data_path)
    text = page.read_text()
    assert "### artemis 2.40.0" in text
    assert "### rabbitmq 3.10.8" in text
    assert "1.25 [1.25] pass" in text
    assert text.count("my reading") == 1
    assert text.endswith(e2e.WS_END + "\nafter\n")
    assert json.loads(data_path.read_text())["brokers"]["rabbitmq"]["command"] == "c2"


def test_the_threaded_e2e_page_keeps_the_notes_and_websocket_sections(tmp_path: Path) -> None:
    from benchmarks import e2e

    page = tmp_path / "benchmarks.md"
    notes = f"{e2e.KEPT_BEGIN}\n## Send tracking\nhand-written\n{e2e.KEPT_END}"
    block = f"{e2e.WS_BEGIN}\n## STOMP over WebSocket\nkept\n{e2e.WS_END}"
    page.write_text(f"old page\n\n{notes}\n\n{block}\n")
    cfg = e2e.Settings(
        count=1,
        size=1,
        runs=1,
        window=1,
        threads=1,
        rate=1.0,
        latency_count=0,
        rss_count=0,
        rss_runs=0,
        warmup=0,
        rss_max_seconds=0.0,
        drain_idle=0.0,
        warmup_rounds=0,
    )
    env = e2e.environment() | {"loadavg_end": [0.0, 0.0, 0.0]}
    e2e.write_docs(page, env, [], {}, cfg, "cmd", {})
    text = page.read_text()
    assert "old page" not in text
    assert block in text
    assert notes in text
    assert text.index(notes) < text.index(block)
