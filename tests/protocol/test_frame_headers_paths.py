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


def test_names_and_repeated_values_are_shared_between_frames_never_stale() -> None:
    """The C mapping keeps the str objects of header names, and the last value of each, for
    the next frame: a stream's repeated names and values are shared objects, and a value that
    changes (same length, same name; escaped; not ASCII) is never answered from the cache."""
    values = ["/q/a", "/q/b", "/q/b", "a\\cb", "a:b", "é", "é", "/q/a"]
    wire = b"".join(
        b"MESSAGE\ndest:%s\nid:%d\n\n\0" % (value.replace(":", "\\c").encode(), n)
        for n, value in enumerate(values)
    )
    parsed = FrameParser("1.2").feed(wire)
    mappings = [frame.headers for frame in parsed]
    assert [m["dest"] for m in mappings] == [v.replace("\\c", ":") for v in values]
    assert [m["id"] for m in mappings] == [str(n) for n in range(len(values))]
    if frames_module._c_headers is not None:
        names = [next(iter(m)) for m in mappings]
        assert all(name is names[0] for name in names)
        assert mappings[2]["dest"] is mappings[1]["dest"]


def test_python_mapping_paths_for_every_header_shape() -> None:
    """The pure-Python mapping (no C accelerator) on each shape its fast paths tell apart:
    one colon a line or more, escapes only in values or in a name too, repeats."""
    cases = {
        b"a:1\nb:x\\cy\\c2": {"a": "1", "b": "x:y:2"},  # one colon a line, only \c escapes
        b"a:1\nb:x\\\\cy": {"a": "1", "b": "x\\cy"},  # an escaped backslash before a c
        b"a:1\nb:x\\ny": {"a": "1", "b": "x\ny"},
        b"a:1\nb:2\na:3": {"a": "1", "b": "2"},  # repeated: the first wins
        b"a:1:2\nb:3": {"a": "1:2", "b": "3"},  # a raw colon in a value
        b"a:1:2\nb:3\nb:4": {"a": "1:2", "b": "3"},
        b"x\\cy:1\nb:\\c": {"x:y": "1", "b": ":"},  # an escaped colon in a name
        b"a:x\\cy\nb:1\x002": {"a": "x:y", "b": "1\x002"},  # \c escapes and a NUL
        b"a:1\x002\nb:3": {"a": "1\x002", "b": "3"},  # a NUL, no escape
        b"a:\\c\nb:2\na:3": {"a": ":", "b": "2"},  # \c escapes and a repeat
        b"a:\\c:\\n\nb:2": {"a": "::\n", "b": "2"},  # a raw colon and other escapes
    }
    accelerator = frames_module._c_headers
    frames_module._c_headers = None
    try:
        for head, expected in cases.items():
            (frame,) = FrameParser("1.2").feed(b"MESSAGE\n" + head + b"\n\n\0")
            assert dict(frame.headers) == expected, head
            assert list(frame.headers) == list(expected)
    finally:
        frames_module._c_headers = accelerator
