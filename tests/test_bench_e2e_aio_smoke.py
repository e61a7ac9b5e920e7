"""Smoke tests of the asyncio section of the end-to-end benchmark (``benchmarks.e2e --asyncio``).

Correctness only: every asyncio adapter (raw-aio, ours-aio, stompman, aiostomp) must move
every message in every case of the section, against the in-process broker; the section's
report and its block in docs/benchmarks.md must come out right. No timing is asserted.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from benchmarks.e2e import (
    AIO_BEGIN,
    AIO_END,
    AIO_SECTION_CASES,
    AIO_SECTION_CLIENTS,
    NOTES_BEGIN,
    NOTES_END,
    BrokerSpec,
    Settings,
    aio_doc_block,
    aio_targets,
    case_clients,
    summarize,
    write_aio_docs,
    write_docs,
)
from benchmarks.e2e_aio import AIO_ADAPTERS, AIO_CASES
from benchmarks.e2e_peers import (
    AIO_CLIENTS,
    Meter,
    NotApplicable,
    adapter_for,
    raw_drain,
    raw_produce,
    split_frames,
    text_message_headers,
)
from stomp_enterprise.testing import Broker
from tests.subproc import run_quick_e2e

COUNT = 60


def test_the_asyncio_section_runs_its_clients_on_its_cases() -> None:
    assert AIO_CASES == ("produce", "produce-headers", "consume", "consume-headers")
    assert AIO_SECTION_CASES == AIO_CASES
    assert set(AIO_CLIENTS) == set(AIO_ADAPTERS)
    assert AIO_SECTION_CLIENTS == ("raw-aio", "ours-aio", "stompman", "aiostomp", "ours")
    assert case_clients("produce", 2, asyncio=True) == AIO_SECTION_CLIENTS
    assert case_clients("produce", 2) == ("raw", "ours", "stomp.py", "stompest")


def test_an_asyncio_adapter_reports_the_other_cases_as_not_applicable() -> None:
    adapter = AIO_ADAPTERS["stompman"]("tcp://127.0.0.1:1", "/")
    with pytest.raises(NotApplicable, match="the asyncio section runs produce"):
        adapter.receipt_pipelined("/queue/x", 10, b"x", 5, Meter())


def test_the_raw_frame_splitter_keeps_partial_frames_and_skips_heart_beats() -> None:
    stream = (
        b"\nMESSAGE\nack:1\ncontent-length:3\n\na\0b\0\r\n"
        b"RECEIPT\nreceipt-id:done\n\n\0MESSAGE\nack:2\n\nhal"
    )
    frames, rest = split_frames(stream)
    assert frames == [
        (b"MESSAGE", b"MESSAGE\nack:1\ncontent-length:3", b"a\0b"),
        (b"RECEIPT", b"RECEIPT\nreceipt-id:done", b""),
    ]
    assert rest == b"MESSAGE\nack:2\n\nhal"
    assert split_frames(rest + b"f\0") == ([(b"MESSAGE", b"MESSAGE\nack:2", b"half")], b"")


@pytest.mark.parametrize("client", AIO_CLIENTS)
@pytest.mark.parametrize("case", AIO_CASES)
def test_every_asyncio_adapter_moves_every_message(client: str, case: str) -> None:
    """The adapter's real path against the in-process broker; the queue is checked after."""
    with Broker() as broker:
        dest = f"/queue/aiobench-{client}-{case}-{uuid.uuid4().hex[:8]}"
        adapter = adapter_for(client)(broker.url, "/")
        meter = Meter()
        if case.startswith("consume"):
            headers = text_message_headers() if case == "consume-headers" else None
            raw_produce(broker.url, "/", dest, COUNT, b"c" * 100, headers)
            moved = getattr(adapter, case.replace("-", "_"))(dest, COUNT, meter)
            expect_left = 0
        else:
            moved = getattr(adapter, case.replace("-", "_"))(dest, COUNT, b"p" * 100, meter)
            expect_left = COUNT
        adapter.close()
        assert moved == COUNT
        assert meter.elapsed > 0
        assert meter.cpu >= 0
        assert raw_drain(broker.url, "/", dest, expect_left, idle=0.2) == expect_left


def _cfg(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "count": 100,
        "size": 10,
        "runs": 1,
        "window": 10,
        "threads": 2,
        "rate": 10.0,
        "latency_count": 10,
        "rss_count": 10,
        "rss_runs": 1,
        "warmup": 1,
        "rss_max_seconds": 1.0,
        "drain_idle": 0.1,
        "warmup_rounds": 0,
        "asyncio": True,
    }
    values.update(changes)
    return Settings(**values)


def _result(case: str, client: str, rate: float, cpu: float) -> dict[str, Any]:
    return {
        "case": case,
        "client": client,
        "ok": True,
        "moved": 100,
        "msgs_per_s": rate,
        "cpu_us_per_msg": cpu,
    }


def test_the_targets_compare_ours_aio_with_stompman_and_the_threaded_client() -> None:
    results = [
        _result("produce", "ours-aio", 30_000, 4.0),
        _result("produce", "stompman", 10_000, 16.0),
        _result("produce", "ours", 30_000, 3.0),
        _result("produce", "raw-aio", 40_000, 0.5),
        _result("consume", "ours-aio", 12_000, 20.0),
        _result("consume", "stompman", 10_000, 200.0),
        _result("consume", "ours", 30_000, 10.0),
    ]
    verdicts = {target: passed for target, _m, _r, passed in aio_targets(summarize(results))}
    assert verdicts == {
        "produce: msg/s ≥ 1.5x stompman's, client CPU µs/msg ≤ 0.5x stompman's": True,
        "produce: client CPU µs/msg ≤ 1.2x the threaded client's": False,  # 1.33x
        "consume: msg/s ≥ 1.5x stompman's, client CPU µs/msg ≤ 0.5x stompman's": False,
        "consume: client CPU µs/msg ≤ 1.2x the threaded client's": False,  # 2.0x
    }


def test_the_docs_block_is_replaced_alone_and_keeps_its_notes(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    spec = BrokerSpec("activemq", "tcp://127.0.0.1:61710", "/", "5.17.2")
    env = {
        "date": "2026-11-30 12:00 UTC",
        "nproc": 2,
        "cpu": "cpu",
        "platform": "linux",
        "python": "3.11",
        "libraries": {"stompman": "3.16.0"},
        "loadavg_start": [1.0, 1.0, 1.0],
        "loadavg_end": [2.0, 2.0, 2.0],
    }
    summary = {"activemq": summarize([_result("produce", "stompman", 1234.0, 5.0)])}

    def block(command: str) -> str:
        return aio_doc_block(env, [spec], summary, _cfg(), command, {})

    # a page from the threaded run, plus a hand-written section after it
    write_docs(page, env, [spec], {"activemq": {}}, _cfg(asyncio=False), "threaded run", {})
    page.write_text(page.read_text() + "\n## Send tracking\n\nwritten by hand\n")
    write_aio_docs(page, block("first asyncio run"))
    text = page.read_text()
    assert text.count(AIO_BEGIN) == text.count(AIO_END) == 1
    assert "first asyncio run" in text
    assert "| 1,234 |" in text  # stompman's produce rate in the asyncio table
    assert text.index("## Results") < text.index("written by hand") < text.index(AIO_BEGIN)

    # notes written by hand inside the block survive the next asyncio run
    page.write_text(text.replace(f"{NOTES_BEGIN}\n", f"{NOTES_BEGIN}\nReading: by hand.\n"))
    write_aio_docs(page, block("second asyncio run"))
    text = page.read_text()
    assert "first asyncio run" not in text
    assert "second asyncio run" in text
    assert f"{NOTES_BEGIN}\nReading: by hand.\n{NOTES_END}" in text
    assert "## Send tracking" in text

    # and the threaded run, which rewrites the page, keeps the asyncio block
    write_docs(page, env, [spec], {"activemq": {}}, _cfg(asyncio=False), "threaded again", {})
    text = page.read_text()
    assert "threaded again" in text
    assert "second asyncio run" in text
    assert "Reading: by hand." in text


@pytest.mark.slow
@pytest.mark.timeout(240)  # a guard: 20 fresh processes on a shared 2-core machine
def test_the_asyncio_section_runs_end_to_end_on_the_embedded_broker(tmp_path: Path) -> None:
    # the 200 s guard: 20 fresh processes (4 cases x 5 clients) on a shared machine
    proc, data, docs = run_quick_e2e(tmp_path, "--asyncio", timeout=200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert data["settings"]["asyncio"] is True
    results = data["brokers"]["embedded"]["results"]
    assert {(r["case"], r["client"]) for r in results} == {
        (case, client) for case in AIO_SECTION_CASES for client in AIO_SECTION_CLIENTS
    }
    for result in results:
        assert result.get("ok") is True, result
        assert result["moved"] == result["expected"] == 200, result
    assert "| produce: msg/s ≥ 1.5x stompman's" in proc.stdout
    assert "| target (ours-aio) | measured | raw-aio, same measure | result |" in docs
