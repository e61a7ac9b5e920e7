"""Smoke test of the benchmark adapters (no timing is asserted).

Each peer, driven through its real receive/send path, must agree with our parser on a tiny,
simple stream.
"""

from __future__ import annotations

import pytest

from benchmarks.bench_parser import build_workloads, check_frames
from benchmarks.peers import PARSERS, SERIALIZERS, ParsedFrame, parse_stream_ours
from stomp_enterprise.protocol.frames import Frame

FRAMES = 10


@pytest.fixture(scope="module")
def simple() -> tuple[list[ParsedFrame], list[bytes]]:
    """The first 10 frames of the 1 KiB workload, as expected tuples and as 64-byte chunks."""
    workload = next(w for w in build_workloads(quick=True) if w.name == "1KiB")
    frames = workload.frames[:FRAMES]
    stream = b"".join(Frame(c, h, b).to_bytes("1.2") for c, h, b in frames)
    # Small chunks so frames (and the escaped message-id) are split across reads.
    return frames, [stream[i : i + 64] for i in range(0, len(stream), 64)]


@pytest.mark.parametrize("peer", sorted(PARSERS))
def test_parse_adapter_matches_ours(
    peer: str, simple: tuple[list[ParsedFrame], list[bytes]]
) -> None:
    """Every parse adapter returns the same frames as our parser, and those are the input."""
    frames, chunks = simple
    _, parse_stream = PARSERS[peer]
    ours = parse_stream_ours(chunks)
    got = parse_stream(chunks)
    assert len(got) == FRAMES
    assert got == ours
    assert check_frames(frames, got) == "OK"
    assert got[0][1]["message-id"] == "ID:host-41234-1700000000000-1:1:1:1:0"


@pytest.mark.parametrize("peer", sorted(PARSERS))
def test_native_parse_adapter_counts(
    peer: str, simple: tuple[list[ParsedFrame], list[bytes]]
) -> None:
    """The timed (native) adapter delivers one object per frame."""
    _, chunks = simple
    native, _ = PARSERS[peer]
    assert len(native(chunks)) == FRAMES


@pytest.mark.parametrize("peer", sorted(SERIALIZERS))
def test_serialize_adapter_round_trips(
    peer: str, simple: tuple[list[ParsedFrame], list[bytes]]
) -> None:
    """Every serializer's bytes parse (with our parser) back to the frames it was given."""
    frames, _ = simple
    serialize = SERIALIZERS[peer]
    wire = b"".join(serialize(c, h, b) for c, h, b in frames)
    assert parse_stream_ours([wire]) == frames
    assert b"message-id:ID\\chost-41234" in wire  # 1.2 escaping of the colons


def test_check_frames_reports_drops() -> None:
    """The correctness check names a dropped frame instead of passing it."""
    frames = [("MESSAGE", {"destination": "/q", "message-id": f"m{i}"}, b"x") for i in range(3)]
    verdict = check_frames(frames, [frames[0], frames[2]])
    assert verdict.startswith("WRONG: 2/3 frames")
    assert "expected frame #2" in verdict
