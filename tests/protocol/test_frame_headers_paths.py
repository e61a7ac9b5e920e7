"""The mapping of a parsed frame's headers, built in a few C-level passes from the header
text, equals the definition: the pairs decoded one by one, the first of a repeated header
winning; and ``get`` answers the same before and after the mapping is built."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stomp_enterprise.protocol import frames as frames_module
from stomp_enterprise.protocol.frames import Frame
from stomp_enterprise.protocol.parser import FrameParser

texts = st.text(alphabet=st.sampled_from("ab:\\\n\r\0 é☃"), max_size=6)


def first_wins(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


@settings(max_examples=400, deadline=None)
@given(
    pairs=st.lists(st.tuples(texts.filter(bool), texts), max_size=6),
    version=st.sampled_from(["1.0", "1.1", "1.2"]),
    probe=texts,
)
def test_parsed_headers_equal_the_pairwise_definition(pairs, version, probe) -> None:
    raw = [(n, v) for n, v in pairs if "\0" not in n + v]
    if version == "1.0":
        raw = [(n, v) for n, v in raw if not any(c in n + v for c in "\n\r") and ":" not in n]
    if version == "1.1":
        raw = [(n, v) for n, v in raw if "\r" not in n + v]
    wire = Frame("MESSAGE", raw, b"x").to_bytes(version)
    accelerator = frames_module._c_headers
    for c_headers in {accelerator, None}:  # the C accelerator (when built), then pure Python
        frames_module._c_headers = c_headers
        try:
            (fast,) = FrameParser(version).feed(wire)
            (slow,) = FrameParser(version).feed(wire)
            before = fast.get(probe)
            mapping = dict(fast.headers)
        finally:
            frames_module._c_headers = accelerator
        assert mapping == first_wins(slow.raw_headers)
        assert list(mapping) == list(first_wins(slow.raw_headers))  # wire order kept
        assert fast.get(probe) == before == slow.get(probe)
        assert fast.raw_headers == slow.raw_headers
