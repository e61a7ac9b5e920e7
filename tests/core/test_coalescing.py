"""Read coalescing decisions (core.coalescing), without a clock or a socket."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stomp_enterprise.core.coalescing import (
    BUSY_WAIT,
    FIRST_PAUSE,
    MIN_GAP,
    STREAM_GAP,
    ReadCoalescing,
)

LONGEST = 0.002


def test_off_never_pauses() -> None:
    coalescing = ReadCoalescing(0.0)
    assert [coalescing.after_read(50, 0.0, False) for _ in range(5)] == [0.0] * 5


def test_a_lone_frame_is_not_a_stream() -> None:
    coalescing = ReadCoalescing(LONGEST)
    assert coalescing.after_read(1, 0.01, False) == 0.0
    assert coalescing.after_read(1, 0.003, False) == 0.0


def test_several_waiting_frames_start_a_stream_that_grows_to_the_bound() -> None:
    coalescing = ReadCoalescing(LONGEST)
    pauses = [coalescing.after_read(100, 0.0, False) for _ in range(6)]
    assert pauses == [FIRST_PAUSE, 0.0006, 0.0012, LONGEST, LONGEST, LONGEST]


def test_frames_one_by_one_faster_than_the_reader_wakes_are_a_stream() -> None:
    coalescing = ReadCoalescing(LONGEST)
    assert coalescing.after_read(1, STREAM_GAP / 4, False) == 0.0  # one quick read: not yet
    assert coalescing.after_read(1, STREAM_GAP / 4, False) == FIRST_PAUSE  # two in a row


def test_a_quick_read_after_a_slow_one_is_no_trickle() -> None:
    coalescing = ReadCoalescing(LONGEST)
    for _ in range(10):  # alternately slow and quick: never two quick reads in a row
        assert coalescing.after_read(1, STREAM_GAP * 2, False) == 0.0
        assert coalescing.after_read(1, STREAM_GAP / 4, False) == 0.0


def test_paced_traffic_is_never_held_back() -> None:
    """A frame every half millisecond: the reader waits about that long for each."""
    coalescing = ReadCoalescing(LONGEST)
    assert all(coalescing.after_read(1, 0.00045, False) == 0.0 for _ in range(100))


def test_a_pause_that_gathered_too_little_ends_the_stream() -> None:
    coalescing = ReadCoalescing(LONGEST)
    assert coalescing.after_read(5, 0.0, False) == FIRST_PAUSE
    gathered = int(FIRST_PAUSE / MIN_GAP) - 1  # fewer than one frame per MIN_GAP
    assert coalescing.after_read(gathered, 0.0, False) == 0.0
    # the read after that one waited for a single frame: no stream (a read after a pause
    # does not count as a quick read)
    assert coalescing.after_read(1, STREAM_GAP / 4, False) == 0.0
    assert coalescing.after_read(3, 0.0, False) == FIRST_PAUSE  # a new stream starts small


def test_a_read_that_waited_or_filled_the_buffer_is_read_on_at_once() -> None:
    coalescing = ReadCoalescing(LONGEST)
    assert coalescing.after_read(100, BUSY_WAIT, False) == 0.0  # it had to wait
    assert coalescing.after_read(100, 0.0, True) == 0.0  # more is waiting
    assert coalescing.after_read(100, 0.0, False) == FIRST_PAUSE


def test_a_bound_below_the_first_pause_is_kept() -> None:
    coalescing = ReadCoalescing(0.0001)
    assert coalescing.after_read(10, 0.0, False) == 0.0001
    assert coalescing.after_read(10, 0.0, False) == 0.0001


def test_reset_starts_again_from_nothing() -> None:
    coalescing = ReadCoalescing(LONGEST)
    coalescing.after_read(100, 0.0, False)
    coalescing.after_read(100, 0.0, False)
    coalescing.reset()
    assert coalescing.after_read(1, STREAM_GAP / 4, False) == 0.0  # no trickle carried over
    assert coalescing.after_read(100, 0.0, False) == FIRST_PAUSE


@given(
    longest=st.sampled_from([0.0, 0.0001, 0.0003, 0.002, 0.01]),
    reads=st.lists(
        st.tuples(st.integers(0, 500), st.floats(0.0, 0.01, allow_nan=False), st.booleans()),
        max_size=60,
    ),
)
def test_every_pause_is_bounded_and_grows_only_by_doubling(
    longest: float, reads: list[tuple[int, float, bool]]
) -> None:
    coalescing = ReadCoalescing(longest)
    previous = 0.0
    for frames, waited, full in reads:
        pause = coalescing.after_read(frames, waited, full)
        assert 0.0 <= pause <= longest
        if pause:
            assert waited < BUSY_WAIT
            assert not full
            assert pause in (min(FIRST_PAUSE, longest), min(previous * 2, longest))
            if previous:
                assert pause == min(previous * 2, longest)
                assert frames * MIN_GAP >= previous
            else:
                assert pause == min(FIRST_PAUSE, longest)
        previous = pause
