"""The outbound core: which frames carry over a loss, the trackMessages cache, the outbox."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stomp_enterprise.core import outbox
from stomp_enterprise.core.outbox import (
    MARKER_PREFIX,
    Mark,
    Outbox,
    SendTracker,
    carries_over,
    outbound_state,
    plan_resend,
    receipt_of,
    split_sends,
)
from stomp_enterprise.protocol import Session
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.session import State
from tests.protocol.helpers import parse

VERSIONS = ("1.0", "1.1", "1.2")


def connected(version: str) -> Session:
    """A session in CONNECTED (driven through the public API: CONNECT out, CONNECTED in)."""
    session = Session((version,))
    session.connect("/")
    session.receive_data(f"CONNECTED\nversion:{version}\n\n\0".encode())
    assert session.state is State.CONNECTED
    return session


def message_frame(version: str) -> Frame:
    ack = "ack:a-1\n" if version == "1.2" else ""
    raw = f"MESSAGE\nsubscription:s-1\nmessage-id:m-1\ndestination:/q\n{ack}\nbody\0".encode()
    return parse(raw, version)[0]


# ------------------------------------------------------------------ classification


@pytest.mark.parametrize("version", VERSIONS)
def test_only_sends_outside_a_transaction_carry_over(version: str) -> None:
    session = connected(version)
    session.begin("tx-1")
    frame = message_frame(version)
    sub = session.subscribe("/queue/a", "s-1", ack="client")
    carried = {
        "send": session.send("/queue/a", b"x"),
        "send with headers": session.send("/queue/a", b"x", {"persistent": "true"}),
        "send with receipt": session.send("/queue/a", b"x", receipt="rcpt-1"),
        "send with an empty body": session.send("/queue/a"),
        "send whose body looks like a header": session.send("/q", b"\n\ntransaction:tx-1\n"),
    }
    not_carried = {
        "send in a transaction": session.send("/queue/a", b"x", transaction="tx-1"),
        "send in a transaction, more headers": session.send(
            "/queue/a", b"x", {"a": "b"}, transaction="tx-1", receipt="r-2"
        ),
        "ack": session.ack(frame),
        "ack in a transaction": session.ack(frame, transaction="tx-1"),
        "subscribe": sub,
        "unsubscribe": session.unsubscribe("s-1"),
        "commit": session.commit("tx-1"),
        "heart-beat": session.heartbeat(),
        "disconnect": session.disconnect(receipt="r-3"),
    }
    if version != "1.0":
        not_carried["nack"] = b"NACK\nid:x\nsubscription:s-1\n\n\0"
    assert [name for name, data in carried.items() if not carries_over(data)] == []
    assert [name for name, data in not_carried.items() if carries_over(data)] == []


def test_transaction_header_first_or_last_is_found() -> None:
    assert not carries_over(b"SEND\ntransaction:t\ndestination:/q\n\nx\0")
    assert not carries_over(b"SEND\ndestination:/q\ntransaction:t\n\nx\0")
    assert carries_over(b"SEND\ndestination:/q\nx-transaction:t\n\nx\0")
    assert carries_over(b"SEND\ndestination:/q\n\n\ntransaction:t\n\0")  # in the body


def test_receipt_of() -> None:
    assert receipt_of(b"SEND\ndestination:/q\nreceipt:rcpt-7\n\nreceipt:no\0") == "rcpt-7"
    assert receipt_of(b"SEND\ndestination:/q\n\nreceipt:no\0") is None
    assert receipt_of(b"SEND\nreceipt-x:1\n\n\0") is None


# ------------------------------------------------------------------ plan_resend


def test_plan_keeps_order_and_skips_repeats_and_non_sends() -> None:
    written_receipted = b"SEND\ndestination:/q\nreceipt:rcpt-1\n\nA\0"
    cached = [b"SEND\ndestination:/q\n\nB\0"]
    unsent_receipted = b"SEND\ndestination:/q\nreceipt:rcpt-2\n\nD\0"
    unsent = [
        b"ACK\nid:1\n\n\0",
        b"SEND\ndestination:/q\n\nC\0",
        unsent_receipted,
        b"SEND\ndestination:/q\ntransaction:t\n\nE\0",
        b"\n",
    ]
    plan = plan_resend(cached, unsent, [written_receipted, cached[0], unsent_receipted])
    assert [frame[-2:-1] for frame in plan] == [b"A", b"B", b"C", b"D"]
    assert plan[3] is unsent_receipted


# ------------------------------------------------------------------ SendTracker


def sends(count: int, size: int = 10) -> list[bytes]:
    return [b"SEND\ndestination:/q\n\n" + b"%0*d" % (size, i) + b"\0" for i in range(count)]


def strip_marker(frame: bytes) -> bytes:
    return re.sub(rb"\nreceipt:" + MARKER_PREFIX.encode() + rb"\d+", b"", frame, count=1)


def test_marker_is_one_header_after_the_command_line() -> None:
    tracker = SendTracker(1 << 20, ids=itertools.count(41))
    batch = [b"ACK\nid:1\n\n\0", *sends(2), b"\n"]
    original = list(batch)
    mark = tracker.prepare(batch, sum(map(len, batch)), now=0.0)
    assert mark == Mark(2, "trk-41")
    assert batch[2] == b"SEND\nreceipt:trk-41\n" + original[2][5:]
    assert batch[:2] == original[:2]
    assert batch[3] is original[3]
    frame = parse(batch[2])[0]
    assert frame.headers["receipt"] == "trk-41"
    assert frame.body == parse(original[2])[0].body
    assert tracker.markers == 1


def test_a_frame_with_its_own_receipt_is_the_mark() -> None:
    tracker = SendTracker(1 << 20)
    own = b"SEND\ndestination:/q\nreceipt:rcpt-9\n\nx\0"
    batch = [*sends(1), own]
    mark = tracker.prepare(batch, 99, now=0.0)
    assert mark == Mark(1, "rcpt-9")
    assert batch[1] is own  # never a second receipt header
    tracker.written(batch, mark)
    assert tracker.confirm("rcpt-9")
    assert len(tracker) == 0
    assert tracker.bytes == 0


def test_no_marker_until_due_then_by_frames_bytes_or_time() -> None:
    tracker = SendTracker(4000, every_frames=5, interval=1.0)
    first = sends(1)
    tracker.written(first, tracker.prepare(first, 30, now=0.0))  # the first is marked
    batch = sends(2)
    assert tracker.prepare(batch, 60, now=0.5) is None
    tracker.written(batch)
    mark = tracker.prepare(sends(3), 90, now=0.6)  # 2 + 3 frames >= 5
    assert mark is not None
    tracker.written(sends(1))
    assert tracker.prepare(sends(1), 30, now=1.7) is None  # a marker is still unanswered
    assert tracker.confirm(mark.receipt_id)
    assert tracker.prepare(sends(1), 30, now=1.7) is not None  # a second since the last
    assert tracker.prepare(sends(1), 1000, now=1.8) is not None  # a quarter of the cache
    assert tracker.prepare([b"ACK\nid:1\n\n\0"], 12, now=9.0) is None  # no SEND to mark


def test_time_alone_never_asks_a_broker_that_has_not_answered() -> None:
    """A slow broker gets at most one time-driven marker per answer: with the interval
    alone, a broker answering after 50 ms was sent a marker every 10 ms (each costing the
    client a RECEIPT, a reader wake-up and a hand-off)."""
    tracker = SendTracker(1 << 30, every_frames=10_000, interval=0.01)
    first = tracker.prepare(sends(1), 30, now=0.0)
    assert first is not None
    tracker.written(sends(1), first)
    marks = [tracker.prepare(sends(1), 30, now=0.01 * step) for step in range(1, 6)]
    assert marks == [None] * 5
    assert tracker.confirm(first.receipt_id)
    assert tracker.prepare(sends(1), 30, now=0.06) is not None


def test_confirm_drops_everything_before_the_mark_and_older_marks() -> None:
    tracker = SendTracker(1 << 20, every_frames=1)
    marks = []
    for frames in (sends(3), sends(2), sends(4)):
        mark = tracker.prepare(frames, 0, now=0.0)
        tracker.written(frames, mark)
        marks.append(mark)
    assert len(tracker) == 9
    assert tracker.confirm(marks[1].receipt_id)  # covers the first two batches
    assert len(tracker) == 4
    assert tracker.confirmed == 5
    assert not tracker.is_marker(marks[0].receipt_id)  # implied, forgotten: no leak
    assert not tracker.confirm(marks[0].receipt_id)
    assert not tracker.confirm("rcpt-unknown")
    assert tracker.confirm(marks[2].receipt_id)
    assert len(tracker) == 0
    assert tracker.bytes == 0


def test_a_receipt_that_overtakes_the_write_record_still_confirms() -> None:
    """The broker may answer a marker before the writer has recorded its batch as written
    (the writer thread was not scheduled yet): the confirmation must not be lost, or a full
    cache would wait for it forever."""
    tracker = SendTracker(1 << 20, every_frames=1)
    batch = sends(4)
    mark = tracker.prepare(batch, 0, now=0.0)
    assert mark is not None
    assert tracker.confirm(mark.receipt_id)  # before written()
    tracker.written(batch, mark)
    assert len(tracker) == 0
    assert tracker.bytes == 0
    later = sends(2)
    tracker.written(later)  # not confirmed: kept
    assert tracker.take() == later


def test_admit_keeps_the_cache_within_max_bytes() -> None:
    frames = sends(10)  # 33 bytes each
    tracker = SendTracker(132)  # 100 bytes, and room for one marker header
    assert tracker.admit(frames, 330) == 3
    tracker.written(frames[:3])
    assert tracker.admit(frames[3:], 231) == 0  # full: wait for a confirmation
    assert tracker.admit([b"ACK\nid:1\n\n\0"], 12) == 1  # only SENDs are cached
    big = sends(1, size=500)
    assert SendTracker(100).admit(big, 523) == 1  # an empty cache takes one oversize frame


def test_take_returns_the_unconfirmed_frames_and_empties() -> None:
    tracker = SendTracker(1 << 20)
    frames = sends(3)
    tracker.written([b"\n", *frames, b"ACK\nid:1\n\n\0"])
    assert tracker.take() == frames
    assert len(tracker) == 0
    assert tracker.bytes == 0
    assert tracker.take() == []


frame_items = st.one_of(
    st.sampled_from(
        [b"SEND\n", b"SEND", b"SENDX\n", b"SUBSCRIBE\nid:1\n\n\0", b"\n", b"", b"ACK\n"]
    ),
    st.binary(max_size=9).map(lambda tail: b"SEND\n" + tail),
    st.binary(max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(frame_items, max_size=12))
def test_split_sends_in_c_equals_the_python_definition(frames: list[bytes]) -> None:
    """The tracker's per-batch split (the C accelerator when built) is the list
    comprehension's: the frames starting with ``SEND\n``, in order, and their total size."""
    expected = outbox._split_sends(frames)
    assert expected[1] == sum(map(len, expected[0]))
    assert split_sends(frames) == expected
    if outbox._c_sends is not None:
        found = outbox._c_sends(frames)
        assert found == expected
        assert found is not None
        assert all(a is b for a, b in zip(found[0], expected[0], strict=True))


def test_split_sends_hands_anything_unusual_to_the_python_code() -> None:
    odd = [bytearray(b"SEND\nx"), b"SEND\ny", b"ACK\n"]
    assert split_sends(odd) == ([bytearray(b"SEND\nx"), b"SEND\ny"], 12)
    if outbox._c_sends is not None:
        assert outbox._c_sends(odd) is None
        assert outbox._c_sends((b"SEND\n",)) is None  # type: ignore[arg-type]


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        SendTracker(0)


# ------------------------------------------------------------------ property: random losses


kinds = st.sampled_from(["send", "send", "send", "receipted", "ack", "tx", "beat"])


def build(kind: str, number: int) -> bytes:
    if kind == "send":
        return b"SEND\ndestination:/q\n\n%d\0" % number
    if kind == "receipted":
        return b"SEND\ndestination:/q\nreceipt:rcpt-%d\n\n%d\0" % (number, number)
    if kind == "tx":
        return b"SEND\ndestination:/q\ntransaction:t\n\n%d\0" % number
    if kind == "ack":
        return b"ACK\nid:%d\n\n\0" % number
    return b"\n"


@settings(max_examples=300, deadline=None)
@given(
    stream=st.lists(kinds, min_size=1, max_size=80),
    batch_sizes=st.lists(st.integers(1, 12), min_size=40, max_size=40),
    confirm_after=st.lists(st.booleans(), min_size=40, max_size=40),
    loss_batch=st.integers(0, 39),
    written_in_loss=st.floats(0, 1),
    max_bytes=st.integers(40, 600),
    every_frames=st.integers(1, 10),
    tracking=st.booleans(),
)
def test_resent_frames_are_exactly_the_unconfirmed_and_unwritten_in_order(
    stream: list[str],
    batch_sizes: list[int],
    confirm_after: list[bool],
    loss_batch: int,
    written_in_loss: float,
    max_bytes: int,
    every_frames: int,
    tracking: bool,
) -> None:
    """A writer takes batches (as much as the cache admits), a broker confirms markers in
    order at random moments, the connection is lost in the middle of a batch: what the
    outbox plans to write again is exactly the SENDs (outside transactions) not confirmed
    when tracking, or not completely written (plus receipted ones waiting for their
    RECEIPT) without it; in order; whole; and the cache never exceeded maxCacheSize."""
    queue = [build(kind, n) for n, kind in enumerate(stream)]
    originals = list(queue)
    tracker = SendTracker(max_bytes, every_frames=every_frames, interval=1e9)
    written: list[bytes] = []  # complete frames on the wire, as written
    marks: list[tuple[str, int]] = []  # (receipt id, frames written up to it)
    confirmed_upto = 0
    unsent: list[bytes] = []
    for number, wanted in enumerate(batch_sizes):
        if not queue:
            break
        batch = queue[:wanted]
        if tracking:
            count = tracker.admit(batch, sum(map(len, batch)))
            if count == 0:  # full: the broker confirms what is in flight
                assert marks, "a full cache must have a confirmation in flight"
                for receipt_id, _ in marks:
                    tracker.confirm(receipt_id)
                confirmed_upto, marks = marks[-1][1], []
                count = tracker.admit(batch, sum(map(len, batch)))
            assert count > 0
            batch = batch[:count]
        del queue[: len(batch)]
        mark = tracker.prepare(batch, sum(map(len, batch)), now=0.0) if tracking else None
        if number == loss_batch:
            done = int(len(batch) * written_in_loss)  # the frame at `done` was cut
            written.extend(batch[:done])
            if tracking:
                tracker.written(batch[:done], mark)
            unsent = batch[done:] + queue
            break
        written.extend(batch)
        if tracking:
            tracker.written(batch, mark)
            assert tracker.bytes <= max_bytes or len(tracker) == 1
            if mark is not None:
                marks.append((mark.receipt_id, len(written)))
            if confirm_after[number] and marks:
                receipt_id, upto = marks.pop(0)
                assert tracker.confirm(receipt_id)
                confirmed_upto = upto
    else:
        unsent = queue
    # receipted frames still waiting: brokers answer in order, so those before the last
    # confirmation have their RECEIPT (untracked: no confirmation is modelled)
    receipted = [frame for frame in written[confirmed_upto:] if b"\nreceipt:rcpt-" in frame]
    cached = tracker.take() if tracking else []
    plan = plan_resend(cached, unsent, receipted)

    if tracking:
        expected = written[confirmed_upto:] + unsent
    else:
        expected = receipted + unsent
    expected = [frame for frame in expected if carries_over(frame)]
    assert [strip_marker(f) for f in plan] == [strip_marker(f) for f in expected]
    # whole frames only, each one of the application's frames (a marker header aside)
    assert {strip_marker(f) for f in plan} <= set(originals)
    for frame in plan:
        assert len(parse(frame)) == 1


# ------------------------------------------------------------------ Outbox


def test_outbox_counts_resent_and_reports_undelivered() -> None:
    outbox = Outbox()
    outbox.carry([b"a", b"b"])
    outbox.carry([b"c"])
    assert len(outbox) == 3
    assert outbox.take() == [b"a", b"b", b"c"]
    assert outbox.resent == 3
    assert len(outbox) == 0
    outbox.carry([b"d"])
    assert outbox.drop([b"e"]) == [b"d", b"e"]
    assert len(outbox) == 0
    assert outbox.undelivered == 0
    outbox.report(2)
    assert outbox.undelivered == 2


def test_outbound_state_names_what_a_connection_still_holds() -> None:
    url = "tcp://127.0.0.1:61613"
    assert outbound_state(url, False, 10, None, False) == f"{url}: lost, reconnecting"
    assert outbound_state(url, True, 1234, None, False) == (
        f"{url}: 1,234 bytes queued, not yet written"
    )
    tracker = SendTracker(2048)
    batch = [b"SEND\ndestination:/q\n\n" + b"x" * 1500 + b"\0"]
    mark = tracker.prepare(batch, len(batch[0]), 0.0)
    tracker.written(batch, mark)
    state = outbound_state(url, True, 0, tracker, True)
    assert state == (
        f"{url}: 0 bytes queued, not yet written; tracking cache {len(batch[0]):,} of 2,048 "
        "bytes, 1 confirmation(s) awaited, writer waiting for room"
    )
    assert mark is not None
    assert tracker.confirm(mark.receipt_id)
    assert "0 of 2,048 bytes, 0 confirmation(s) awaited" in outbound_state(
        url, True, 0, tracker, False
    )
