"""The broker-side marker cost benchmark (benchmarks/marker_cost.py) on the in-process broker:
every style moves every message and asks for the receipts it says. No timing assertions."""

from __future__ import annotations

import os

from benchmarks.marker_cost import raw_frames, run_all, summary
from stomp_enterprise.testing import Broker


def test_each_marker_style_writes_its_receipts() -> None:
    def receipts(style: str) -> int:
        return sum(chunk.count(b"\nreceipt:") for chunk in raw_frames(style, "/queue/q", 200, b"x"))

    assert receipts("none") == 1
    assert receipts("send:50") == 4  # after SENDs 50, 100, 150, and the last one
    assert receipts("noop:50") == 4
    wire = b"".join(raw_frames("noop:50", "/queue/q", 200, b"x"))
    assert wire.count(b"SEND\n") == 200
    assert wire.count(b"BEGIN\ntransaction:m50\n") == 1


def test_every_style_moves_every_message() -> None:
    styles = ["none", "send:50", "noop:50", "ours:failover", "ours:tracked"]
    with Broker() as broker:
        results = run_all(broker.url, "/", os.getpid(), styles, 200, 1)
    assert [r["style"] for r in results] == styles
    assert [r["drained"] for r in results] == [200] * 5
    assert [r["receipts"] for r in results[:3]] == [1, 4, 4]
    assert [row["style"] for row in summary(results)] == styles
