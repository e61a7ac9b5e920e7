"""The frame-size limit exactly at its boundary, in the pure-Python parser and in the C
accelerator: a frame of exactly ``max_frame_size`` bytes (command, headers and body; the
terminating NUL is not counted) is accepted, one byte more is refused with FrameTooLarge, in
every version, with and without content-length, whole and in random splits. The C-vs-Python
differential tests never generate a frame at the boundary, so an off-by-one (``>`` for
``>=``) in either survived them."""

from __future__ import annotations

import random

import pytest

from stomp_enterprise.errors import FrameTooLarge
from stomp_enterprise.protocol import parser as parser_module
from stomp_enterprise.protocol.constants import UNESCAPED_COMMANDS
from stomp_enterprise.protocol.parser import FrameParser
from tests.protocol.helpers import ALL_VERSIONS, chunks_at, feed_chunks, parser_implementation

LIMIT = 256


def frame_of_size(size: int, *, content_length: bool) -> bytes:
    """A MESSAGE whose bytes before its NUL number exactly ``size``."""
    for body_size in range(size, -1, -1):
        body = b"b" * body_size
        head = b"MESSAGE\ndestination:/queue/limit\nmessage-id:1\nsubscription:0\n"
        if content_length:
            head += b"content-length:%d\n" % body_size
        frame = head + b"\n" + body
        if len(frame) == size:
            return frame + b"\0"
    raise AssertionError(f"no frame of {size} bytes")


def _splits(data: bytes, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    every = [[len(data) - 1], [len(data) - 2], [1], list(range(1, len(data)))]  # NUL apart...
    randoms = [sorted(rng.sample(range(1, len(data)), k)) for k in (1, 2, 5, 17)]
    return [[], *every, *randoms]


IMPLEMENTATIONS = ["pure"] + (["accelerated"] if parser_module.ACCELERATED else [])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("content_length", [True, False], ids=["content-length", "nul"])
def test_a_frame_of_exactly_the_limit_is_accepted(implementation, version, content_length) -> None:
    data = frame_of_size(LIMIT, content_length=content_length)
    for cuts in _splits(data, seed=LIMIT):
        with parser_implementation(implementation):
            parser = FrameParser(version, max_frame_size=LIMIT)
            frames = feed_chunks(parser, chunks_at(data + b"\n" + data, cuts))
        assert [len(f.body) for f in frames] == [len(frames[0].body)] * 2, cuts
        assert frames[0].command == "MESSAGE"


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("content_length", [True, False], ids=["content-length", "nul"])
def test_one_byte_over_the_limit_is_refused(implementation, version, content_length) -> None:
    data = frame_of_size(LIMIT + 1, content_length=content_length)
    for cuts in _splits(data, seed=LIMIT + 1):
        with parser_implementation(implementation):
            parser = FrameParser(version, max_frame_size=LIMIT)
            with pytest.raises(FrameTooLarge, match=f"max_frame_size={LIMIT}"):
                feed_chunks(parser, chunks_at(data, cuts))


def _c_scan(data: bytes, version: str, limit: int) -> tuple[int, int]:
    """What the C accelerator alone does with ``data``: (bytes consumed, frames split)."""
    frames: list[object] = []
    assert parser_module._scan is not None
    pos, _beats = parser_module._scan(
        data,
        0,
        frames,
        version,
        parser_module._CANONICAL_COMMANDS,
        UNESCAPED_COMMANDS,
        parser_module.DEFAULT_MAX_HEADER_COUNT,
        parser_module.DEFAULT_MAX_HEADER_LENGTH,
        limit,
        parser_module._new_frame,
    )
    return pos, len(frames)


@pytest.mark.skipif(not parser_module.ACCELERATED, reason="the C accelerator is not built here")
@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("content_length", [True, False], ids=["content-length", "nul"])
def test_the_accelerator_itself_takes_a_frame_at_the_limit_and_leaves_one_over(
    version, content_length
) -> None:
    """The C scanner hands anything it does not take back to the Python parser, which then
    applies the limit correctly: the outcome alone cannot show an off-by-one in C, so the
    scanner is asked directly which frames it took."""
    at_limit = frame_of_size(LIMIT, content_length=content_length)
    over = frame_of_size(LIMIT + 1, content_length=content_length)
    assert _c_scan(at_limit, version, LIMIT) == (len(at_limit), 1)
    assert _c_scan(over, version, LIMIT) == (0, 0)
    assert _c_scan(at_limit + over, version, LIMIT) == (len(at_limit), 1)
