"""Incremental, exact STOMP frame parser (sans-I/O).

Feed it bytes as they arrive; it returns complete frames and counts heart-beats (EOLs between
frames). Design points:

* EOL is LF or CRLF everywhere, for every version (command line, headers, the blank line,
  heart-beats); any number of EOLs may separate frames.
* ``content-length`` bodies may contain NULs and may be split anywhere; the octet after them
  must be NUL. Without ``content-length`` the body ends at the first NUL.
* Bytes are buffered as a list of chunks and joined only when a frame can be complete, so a
  large body arriving in small pieces costs O(n), not O(n^2).
* Limits are enforced before buffering: a declared ``content-length`` beyond ``max_frame_size``
  fails at once; an over-long header line or header block fails as soon as it is seen.
* With ``skip_oversize`` a MESSAGE beyond ``max_frame_size`` is not an error: its body is
  skipped without being buffered (counted down across feeds for a ``content-length`` body,
  or up to the NUL that ends a body without one, which is exactly where the spec says it
  ends) and an :class:`OversizeFrame` (its headers, an empty body, its size) takes its
  place, so the connection survives one message too large for the client. Any other
  command beyond the limit is still :class:`~stomp_enterprise.errors.FrameTooLarge`.
* Any error is a :class:`~stomp_enterprise.errors.ProtocolError` subclass naming what and
  where; after it the parser refuses further input.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

from stomp_enterprise.errors import FrameTooLarge, RemoteProtocolError
from stomp_enterprise.protocol.constants import (
    COMMANDS,
    MAX_COMMAND_LENGTH,
    UNESCAPED_COMMANDS,
    VERSIONS,
)
from stomp_enterprise.protocol.escaping import unescape
from stomp_enterprise.protocol.frames import Frame

__all__ = [
    "ACCELERATED",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_HEADER_COUNT",
    "DEFAULT_MAX_HEADER_LENGTH",
    "FrameParser",
    "OversizeFrame",
]

DEFAULT_MAX_FRAME_SIZE: Final = 64 * 1024 * 1024
DEFAULT_MAX_HEADER_COUNT: Final = 1000
DEFAULT_MAX_HEADER_LENGTH: Final = 64 * 1024

_COMMAND_PREFIXES: Final = frozenset(c[:i].encode() for c in COMMANDS for i in range(len(c) + 1))
_COMMAND_BYTES: Final = frozenset(c.encode() for c in COMMANDS)
_new_frame = Frame._parsed
#: every byte but LF and ':' (``bytes.translate`` deletes them: what is left shows the lines)
_NOT_MARKS: Final = bytes(b for b in range(256) if b not in b"\n:")
_CANONICAL_COMMANDS: Final = {c: c for c in COMMANDS}

_scan: Callable[..., tuple[int, int]] | None = None
if not os.environ.get("STOMP_ENTERPRISE_PURE_PYTHON"):
    try:  # the optional C accelerator (see _speedups.c): splits the common frames
        from stomp_enterprise.protocol._speedups import scan as _scan
    except ImportError:
        _scan = None

ACCELERATED: Final = _scan is not None
"""Whether the C accelerator is in use (it is built with the package where a C compiler is
present; ``STOMP_ENTERPRISE_PURE_PYTHON=1`` turns it off). Both parse exactly alike."""


class OversizeFrame(Frame):
    """A MESSAGE larger than ``max_frame_size``, parsed with ``skip_oversize``: its headers,
    an empty body, and ``size``, the body's length in bytes (skipped, never buffered)."""

    __slots__ = ("size",)

    size: int


_new_oversize = OversizeFrame._parsed


class FrameParser:
    """Turns a byte stream into :class:`Frame` objects.

    Args:
        version: the STOMP version whose escaping applies; may be changed after CONNECTED
            (``parser.version = "1.1"``).
        max_frame_size: largest frame (headers and body) accepted, in bytes.
        max_header_count: most headers in one frame.
        max_header_length: longest single header line (name, colon and value), in bytes.
        skip_oversize: skip a MESSAGE beyond ``max_frame_size`` and return an
            :class:`OversizeFrame` for it instead of failing.

    Attributes:
        heartbeats: EOLs received between frames so far.
        bytes_received: bytes fed so far.

    Not thread-safe: one parser belongs to one reader.
    """

    __slots__ = (
        "_chunks",
        "_failed",
        "_head_info",
        "_need",
        "_size",
        "_skip",
        "_skipping",
        "_version",
        "_waiting_for",
        "bytes_received",
        "heartbeats",
        "max_frame_size",
        "max_header_count",
        "max_header_length",
        "skip_oversize",
    )

    def __init__(
        self,
        version: str = "1.2",
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_header_count: int = DEFAULT_MAX_HEADER_COUNT,
        max_header_length: int = DEFAULT_MAX_HEADER_LENGTH,
        skip_oversize: bool = False,
    ) -> None:
        for label, limit in (
            ("max_frame_size", max_frame_size),
            ("max_header_count", max_header_count),
            ("max_header_length", max_header_length),
        ):
            if not isinstance(limit, int) or limit < 1:
                raise ValueError(f"{label} must be a positive int, got {limit!r}")
        self.version = version
        self.max_frame_size = max_frame_size
        self.max_header_count = max_header_count
        self.max_header_length = max_header_length
        self.heartbeats = 0
        self.bytes_received = 0
        self._chunks: list[bytes] = []
        self._size = 0  # bytes held in _chunks
        self._need = 0  # do not parse again until _size reaches this
        self._waiting_for: bytes | None = None  # a byte that must arrive before parsing again
        self._failed: RemoteProtocolError | None = None
        self.skip_oversize = skip_oversize
        self._skipping: OversizeFrame | None = None  # the MESSAGE whose body is skipped
        self._skip = 0  # bytes still to skip (its NUL included); -1: up to the next NUL
        # command, header block, escaping and body offset of a frame waiting for its NUL
        self._head_info: tuple[str, str, str | None, int] | None = None

    @property
    def version(self) -> str:
        """The STOMP version whose escaping rules apply to the frames parsed next."""
        return self._version

    @version.setter
    def version(self, value: str) -> None:
        if value not in VERSIONS:
            raise ValueError(f"unknown STOMP version {value!r}; expected one of {VERSIONS}")
        self._version = value

    @property
    def pending(self) -> int:
        """Bytes buffered that do not yet form a complete frame."""
        return self._size

    def _fail(self, exc: RemoteProtocolError) -> RemoteProtocolError:
        self._failed = exc
        self._chunks = []
        self._size = 0
        return exc

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return the frames they complete (possibly none).

        One thread at a time (the parser has no lock): the connection's reader thread in the client.

        Raises:
            RemoteProtocolError: malformed input (and on every call after one).
            FrameTooLarge: a frame or header beyond the limits.
        """
        if self._failed is not None:
            raise RemoteProtocolError(f"parser unusable after an earlier error: {self._failed}")
        if not data:
            return []
        if not isinstance(data, bytes):  # bytearray/memoryview: `in` below needs bytes
            data = bytes(data)
        if self._skipping is not None:
            skipped, data = self._skip_body(data)
            if skipped:
                return skipped + self.feed(data) if data else skipped
            return []
        base = self.bytes_received - self._size  # stream offset of the buffer's first byte
        self.bytes_received += len(data)
        if self._size:
            self._chunks.append(data)
            self._size += len(data)
            if self._size < self._need:
                return []
            waiting_for = self._waiting_for
            if waiting_for is not None and waiting_for not in data:
                self._check_incomplete(base)
                return []
            buf = b"".join(self._chunks)
            self._chunks = []
            self._size = 0
        else:
            buf = data
        try:
            return self._parse(buf, base)
        except RemoteProtocolError as exc:
            raise self._fail(exc) from None

    def _skip_body(self, data: bytes) -> tuple[list[Frame], bytes]:
        """Skip what belongs to an oversize MESSAGE's body; return the finished
        :class:`OversizeFrame` (or nothing yet) and the bytes after it."""
        skipping = self._skipping
        assert skipping is not None
        if self._skip >= 0:  # a content-length body and its NUL
            if len(data) < self._skip:
                self._skip -= len(data)
                self.bytes_received += len(data)
                return [], b""
            last = self._skip - 1
            if data[last] != 0:
                raise self._fail(
                    RemoteProtocolError(
                        f"MESSAGE body is not followed by NUL after content-length="
                        f"{skipping.size} octets (found {data[last : last + 1]!r})",
                        offset=self.bytes_received + last,
                    )
                )
            used = self._skip
        else:  # a body without content-length ends at the first NUL
            nul = data.find(b"\0")
            if nul < 0:
                skipping.size += len(data)
                self.bytes_received += len(data)
                return [], b""
            skipping.size += nul
            used = nul + 1
        self.bytes_received += used
        self._skipping = None
        self._skip = 0
        return [skipping], data[used:]

    @staticmethod
    def _start_skip(command: str, rest: str, escaped: str | None, size: int) -> OversizeFrame:
        """The frame standing for an oversize MESSAGE (its headers, no body)."""
        frame = _new_oversize(command, rest, escaped, b"")
        assert isinstance(frame, OversizeFrame)
        frame.size = size
        return frame

    def _keep(self, buf: bytes, pos: int, need: int, waiting_for: bytes | None, base: int) -> None:
        rest = buf[pos:] if pos else buf
        self._chunks = [rest]
        self._size = len(rest)
        self._need = need
        self._waiting_for = waiting_for
        self._check_incomplete(base + pos)

    def _check_incomplete(self, base: int) -> None:
        """Limits on an incomplete frame held in the buffer (slow path only)."""
        size = self._size
        info = self._head_info
        if (
            size > self.max_frame_size
            and self._waiting_for == b"\0"
            and info is not None
            and self.skip_oversize
            and info[0] == "MESSAGE"
        ):
            # a MESSAGE without content-length outgrew the limit: drop what is buffered of
            # its body and skip the rest up to its NUL
            command, rest, escaped, body_at = info
            self._skipping = self._start_skip(command, rest, escaped, size - body_at)
            self._skip = -1
            self._chunks = []
            self._size = 0
            self._need = 0
            self._waiting_for = None
            self._head_info = None
            return
        if size > self.max_frame_size:
            raise self._fail(
                FrameTooLarge(
                    f"frame exceeds max_frame_size={self.max_frame_size} bytes", offset=base
                )
            )
        if self._waiting_for == b"\n":
            # still in the command/header block (not a NUL-terminated body: its lines are
            # not header lines and its NULless length is bounded by max_frame_size alone)
            head = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
            if len(self._chunks) > 1:
                self._chunks = [head]
            stripped = head.lstrip(b"\r\n")
            newline = stripped.find(b"\n", 0, MAX_COMMAND_LENGTH + 2)
            if newline >= 0:
                first = stripped[:newline]
                valid = (first[:-1] if first.endswith(b"\r") else first) in _COMMAND_BYTES
            else:
                start = stripped[: MAX_COMMAND_LENGTH + 1]
                if start.endswith(b"\r") and len(start) == len(stripped):
                    start = start[:-1]  # the CR of a CRLF whose LF has not arrived yet
                valid = start in _COMMAND_PREFIXES
            if not valid:
                raise self._fail(
                    RemoteProtocolError(
                        f"not a STOMP frame: starts with {head[:16]!r}", offset=base
                    )
                )
            # every header line so far, the one still arriving too (the command line is
            # bounded by the test above), so that where a read ends never changes the
            # outcome; a CR at a line's end is its CRLF's (the frame's own check is exact)
            lines = stripped.split(b"\n")[1:]
            longest = max((len(line) - line.endswith(b"\r") for line in lines), default=0)
            if longest > self.max_header_length:
                raise self._fail(
                    FrameTooLarge(
                        f"header line longer than max_header_length={self.max_header_length}",
                        offset=base,
                    )
                )
            if head.count(b"\n") > self.max_header_count + 1:
                raise self._fail(
                    FrameTooLarge(
                        f"more than max_header_count={self.max_header_count} headers", offset=base
                    )
                )

    def _check_line_lengths(self, lines: list[str], offset: int) -> None:
        for line in lines:
            if len(line.encode()) > self.max_header_length:
                raise FrameTooLarge(
                    f"header line longer than max_header_length={self.max_header_length}",
                    offset=offset,
                )

    @staticmethod
    def _bad_header_line(command: str, lines: list[str], offset: int) -> None:
        for number, line in enumerate(lines[1:], start=1):
            name, sep, _ = line.partition(":")
            if not sep or not name:
                problem = "has no ':'" if not sep else "has an empty name"
                raise RemoteProtocolError(
                    f"header line {number} {line[:60]!r} of {command} {problem}", offset=offset
                )

    def _parse(self, buf: bytes, base: int) -> list[Frame]:
        frames: list[Frame] = []
        append = frames.append
        find = buf.find
        end = len(buf)
        pos = 0
        version = self._version
        scan = _scan
        max_count = self.max_header_count
        max_line = self.max_header_length
        max_size = self.max_frame_size
        while pos < end:
            if scan is not None:
                # C splits the common frames; this loop takes the first other one (an
                # incomplete frame, CRLFs, an error...) and then hands back to it
                pos, beats = scan(
                    buf,
                    pos,
                    frames,
                    version,
                    _CANONICAL_COMMANDS,
                    UNESCAPED_COMMANDS,
                    max_count,
                    max_line,
                    max_size,
                    _new_frame,
                )
                if beats:
                    self.heartbeats += beats
                if pos >= end:
                    break
            byte = buf[pos]
            if byte == 10:  # LF heart-beat / EOL between frames
                self.heartbeats += 1
                pos += 1
                continue
            if byte == 13:
                if pos + 1 == end:
                    self._keep(buf, pos, 2, None, base)
                    break
                if buf[pos + 1] != 10:
                    raise RemoteProtocolError(
                        "carriage return not followed by line feed between frames",
                        offset=base + pos,
                    )
                self.heartbeats += 1
                pos += 2
                continue
            # ---- headers: find the blank line ----
            hend = find(b"\n\n", pos)
            if hend >= 0 and find(b"\r", pos, hend) < 0:  # no CR: no earlier CRLF blank line
                bstart = hend + 2
                crs = False
            else:
                crs = True
                crlf = find(b"\n\r\n", pos, hend + 2 if hend >= 0 else end)
                if crlf >= 0 and (hend < 0 or crlf < hend):
                    hend, bstart = crlf, crlf + 3
                elif hend >= 0:
                    bstart = hend + 2
                else:
                    self._keep(buf, pos, 0, b"\n", base)
                    break
            block = buf[pos:hend]
            try:
                head = block.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RemoteProtocolError(
                    f"invalid UTF-8 in frame headers: {exc.reason}", offset=base + pos + exc.start
                ) from None
            if crs and "\r" in head:
                head = head.replace("\r\n", "\n")
                if head[-1] == "\r":  # the CR of the CRLF ending the last line (LF at hend)
                    head = head[:-1]
                if "\r" in head:
                    raise RemoteProtocolError(
                        "bare carriage return in the command or header lines", offset=base + pos
                    )
            newline = head.find("\n")
            if newline < 0:
                command, rest = head, ""
            else:
                command, rest = head[:newline], head[newline + 1 :]
            if command not in COMMANDS:
                raise RemoteProtocolError(f"invalid command {command[:40]!r}", offset=base + pos)
            escaped: str | None = None
            length = -1
            if rest:
                # the block's line breaks and colons alone, in one C pass: every EOL must be
                # followed by a colon before the next one (each header line has a colon), and
                # there is one EOL per header line (the command line's included)
                marks = block.translate(None, _NOT_MARKS)
                lines = marks.count(b"\n")
                if lines > max_count:
                    raise FrameTooLarge(
                        f"{lines} headers exceed max_header_count={self.max_header_count}",
                        offset=base + pos,
                    )
                if hend - pos > max_line:  # bytes, as the limit is documented
                    self._check_line_lengths(head.split("\n"), base + pos)
                if b"\n\n" in marks or marks[-1] == 10 or b"\n:" in block:  # a colon-less
                    self._bad_header_line(command, head.split("\n"), base + pos)  # or nameless
                if "\\" in rest and version != "1.0" and command not in UNESCAPED_COMMANDS:
                    # usually the only escape is \c (colons): then every backslash starts one
                    if "\\" in rest.replace("\\c", ""):
                        leftover = rest.replace("\\\\", "").replace("\\c", "").replace("\\n", "")
                        if version == "1.2":
                            leftover = leftover.replace("\\r", "")
                        if "\\" in leftover:  # an undefined escape: let unescape name it
                            for line in rest.split("\n"):
                                unescape(line, version)
                    escaped = version
                # content-length: the first one wins
                if rest.startswith("content-length:"):
                    at = 15
                else:
                    at = rest.find("\ncontent-length:")
                    if at >= 0:
                        at += 16
                if at >= 0:
                    stop = rest.find("\n", at)
                    value = rest[at:] if stop < 0 else rest[at:stop]
                    if not value.isdigit() or not value.isascii():
                        raise RemoteProtocolError(
                            f"bad content-length {value!r} in {command}", offset=base + pos
                        )
                    length = int(value)
            # ---- body ----
            if length >= 0:
                stop = bstart + length
                if stop - pos > max_size:
                    if not self.skip_oversize or command != "MESSAGE":
                        raise FrameTooLarge(
                            f"content-length {length} exceeds max_frame_size={self.max_frame_size}",
                            offset=base + pos,
                        )
                    skipping = self._start_skip(command, rest, escaped, length)
                    if stop >= end:  # the body goes on in later feeds: count it down
                        self._skipping = skipping
                        self._skip = stop + 1 - end
                        break
                    if buf[stop] != 0:
                        raise RemoteProtocolError(
                            f"{command} body is not followed by NUL after content-length="
                            f"{length} octets (found {buf[stop : stop + 1]!r})",
                            offset=base + stop,
                        )
                    append(skipping)
                    pos = stop + 1
                    continue
                if stop >= end:
                    self._keep(buf, pos, stop + 1 - pos, None, base)
                    break
                if buf[stop] != 0:
                    raise RemoteProtocolError(
                        f"{command} body is not followed by NUL after content-length={length} "
                        f"octets (found {buf[stop : stop + 1]!r})",
                        offset=base + stop,
                    )
            else:
                stop = find(b"\0", bstart)
                if stop < 0:
                    self._head_info = (command, rest, escaped, bstart - pos)
                    self._keep(buf, pos, 0, b"\0", base)
                    break
                if stop - pos > max_size:
                    if not self.skip_oversize or command != "MESSAGE":
                        raise FrameTooLarge(
                            f"frame exceeds max_frame_size={self.max_frame_size} bytes",
                            offset=base + pos,
                        )
                    append(self._start_skip(command, rest, escaped, stop - bstart))
                    pos = stop + 1
                    continue
            append(_new_frame(command, rest, escaped, buf[bstart:stop]))
            pos = stop + 1
        return frames
