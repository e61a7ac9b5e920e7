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
