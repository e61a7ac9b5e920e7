"""Type stub of the optional C accelerator (``_speedups.c``)."""

from collections.abc import Callable, Mapping, Sequence, Set
from types import MappingProxyType

from stomp_enterprise.protocol.frames import Frame

def scan(
    buf: bytes,
    pos: int,
    frames: list[Frame],
    version: str,
    commands: Mapping[str, str],
    unescaped: Set[str],
    max_header_count: int,
    max_header_length: int,
    max_frame_size: int,
    new_frame: Callable[[str, str, str | None, bytes], Frame],
    /,
) -> tuple[int, int]: ...
def serialize(
    command: str,
    pairs: Sequence[Sequence[str]],
    body: bytes,
    mode: int,
    content_length: bool,
    /,
) -> bytes | None: ...
def send_frame(
    pieces: tuple[bytes, ...],
    lead: tuple[str, ...],
    headers: Mapping[str, str] | None,
    body: bytes,
    content_length: bool,
    /,
) -> bytes | None: ...
def headers(head: str, mode: int, /) -> MappingProxyType[str, str] | None: ...
def sends(frames: list[bytes], /) -> tuple[list[bytes], int] | None: ...
