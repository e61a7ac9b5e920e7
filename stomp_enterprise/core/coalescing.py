"""Read coalescing as a pure object: after each read, how long the reader pauses before the
next one, so that while a stream comes in the kernel gathers a bigger batch for it (see
``ClientConfig.read_coalescing`` and docs/design.md, "read coalescing"). It reads no clock:
the reader passes how long it waited for the read.

A stream is coming in when several frames were already there when the reader came back for
more, or when frames come one by one faster than the reader wakes for them (two reads in a
row that each waited less than ``STREAM_GAP``: RabbitMQ writes one MESSAGE per TCP segment,
and a reader that keeps up never sees two in one read). The first pause is ``FIRST_PAUSE``;
while each pause gathers at least one frame per ``MIN_GAP`` seconds the next one doubles, up
to the configured bound. A slower stream, a lone frame or a read that had to wait starts
again from nothing, so paced traffic is held back by one short pause at most; a full read
buffer (more is waiting) is read again at once.
"""

from __future__ import annotations

__all__ = ["BUSY_WAIT", "FIRST_PAUSE", "MIN_GAP", "STREAM_GAP", "ReadCoalescing"]

#: A read that waited less found frames already waiting.
BUSY_WAIT = 0.0005
#: The first pause of a stream.
FIRST_PAUSE = 0.0003
#: Two reads in a row that each found a frame within this long: frames come one by one
#: faster than the reader wakes for them (several thousand a second).
STREAM_GAP = 0.0002
#: A pause that gathered at least one frame per this long (10,000 a second) is followed by
#: one twice as long.
MIN_GAP = 0.0001


class ReadCoalescing:
    """The reader's coalescing state for one connection.

    Args:
        longest: the longest pause in seconds (``read_coalescing``; 0 turns it off).
    """

    __slots__ = ("first", "longest", "quick", "took")

    def __init__(self, longest: float) -> None:
        self.longest = longest
        self.first = min(FIRST_PAUSE, longest)
        self.took = 0.0  # the pause before the read being decided on (0: none)
        self.quick = False  # the last read (not after a pause) found a frame within STREAM_GAP

    def after_read(self, frames: int, waited: float, full: bool) -> float:
        """The pause before the next read (0: read at once), after a read that held
        ``frames`` frames (heart-beats not counted), for which the reader waited ``waited``
        seconds (after a pause: without waiting first, if it could), and that filled the
        read buffer (``full``)."""
        took = self.took
        quick = not took and frames > 0 and waited < STREAM_GAP
        trickle = quick and self.quick
        self.quick = quick
        pause = 0.0
        if self.longest and waited < BUSY_WAIT and not full:
            if took:
                if frames * MIN_GAP >= took:
                    pause = min(took + took, self.longest)
            elif frames > 1 or trickle:
                pause = self.first
        self.took = pause
        return pause

    def reset(self) -> None:
        """Start again from nothing (a read that was not part of a stream, e.g. the RECEIPT
        a waiting thread asked for)."""
        self.took = 0.0
        self.quick = False
