"""The C serializer (``_speedups.serialize``) against the pure-Python serializer, the
definition: on generated frames with every awkward header (escapes, NUL, CR, lone
surrogates, empty names, non-str items, declared content-lengths), in every version and
with and without ``content_length``, both give the same bytes or the same error."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stomp_enterprise.errors import ProtocolError
from stomp_enterprise.protocol import serializer as serializer_module
from stomp_enterprise.protocol.constants import COMMANDS

ACCELERATED = serializer_module._fast is not None

pytestmark = pytest.mark.skipif(
    not ACCELERATED and not os.environ.get("CI"),
    reason="the optional C accelerator is not built here (no C compiler at install time)",
)

items = st.text(alphabet=st.sampled_from("ab:\\\n\r\0 é☃\ud800\x01"), max_size=5)
pairs = st.one_of(
    st.tuples(items, items),
    st.tuples(st.just("content-length"), st.sampled_from(["0", "3", "16", "x", ""])),
    st.lists(items, min_size=2, max_size=2),
    st.tuples(items, st.integers(0, 3)),  # not a str
    st.tuples(items),  # not a pair
    st.tuples(items, items, items),
)


def outcome(fast: bool, *args: object, **kw: object) -> object:
    saved = serializer_module._fast
    if not fast:
        serializer_module._fast = None
    try:
        return serializer_module.serialize(*args, **kw)  # type: ignore[arg-type]
    except ProtocolError as exc:
        return (type(exc), str(exc))
    finally:
        serializer_module._fast = saved


@settings(max_examples=1500, deadline=None)
@given(
    command=st.sampled_from(sorted(COMMANDS)),
    headers=st.lists(pairs, max_size=5) | st.tuples(pairs, pairs),
    body=st.sampled_from([b"", b"0123456789abcdef", b"a\0b", b"x" * 3]),
    version=st.sampled_from(["1.0", "1.1", "1.2"]),
    content_length=st.booleans(),
)
def test_c_and_python_serializers_agree(command, headers, body, version, content_length) -> None:
    assert outcome(True, command, headers, body, version, content_length=content_length) == (
        outcome(False, command, headers, body, version, content_length=content_length)
    )


def test_the_accelerator_takes_the_common_frames() -> None:
    """It is really used (returns bytes) for a plain frame, and declines unusual ones."""
    fast = serializer_module._fast
    assert fast is not None
    assert fast("SEND", [("destination", "/q:1")], b"ab", 2, True) == (
        b"SEND\ndestination:/q\\c1\ncontent-length:2\n\nab\0"
    )
    assert fast("SEND", [("destination", "/q\0")], b"", 2, True) is None
    assert fast("SEND", [("content-length", "3")], b"ab", 2, True) is None
    assert fast("CONNECT", [("a:b", "c")], b"", 0, True) is None


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_long_headers_grow_the_buffer_identically(version: str) -> None:
    headers = [(f"h{i}", "v\\" * 700 + ":" * (i % 2)) for i in range(8)] + [("é" * 900, "☃")]
    for body in (b"", b"z" * 5000):
        assert outcome(True, "SEND", headers, body, version) == outcome(
            False, "SEND", headers, body, version
        )


values = st.one_of(
    st.text(alphabet=st.sampled_from("ab:\\\n\r\0 é☃\ud800\x02%"), max_size=5),
    st.integers(0, 3),  # not a str: both decline
)


def send_frame_outcome(fast: bool, text: str, count: int, *args: object) -> object:
    """C ``send_frame`` on the head cut by ``send_pieces``, or ``py_send_frame`` on its
    ``send_template``."""
    if fast:
        call, head = serializer_module._c_send_frame, serializer_module.send_pieces(text, count)
    else:
        call, head = serializer_module.py_send_frame, serializer_module.send_template(text, count)
    assert call is not None
    assert head is not None
    return call(head, *args)  # type: ignore[arg-type]


@settings(max_examples=1500, deadline=None)
@given(
    names=st.lists(st.sampled_from(["app", "x-1", "a\\cb", "é", "%s"]), max_size=4, unique=True),
    lead=st.lists(values, max_size=2),
    headers=st.none() | st.dictionaries(st.sampled_from(["app", "x-1", "é"]), values, max_size=4),
    body=st.sampled_from([b"", b"0123456789abcdef", b"a\0b", b"x" * 3]),
    content_length=st.booleans(),
)
def test_c_and_python_send_frames_agree(names, lead, headers, body, content_length) -> None:
    """``_speedups.send_frame`` and ``py_send_frame`` join the same bytes into a cut head,
    or both decline (a value to escape or refuse, not a str, a count that does not fit)."""
    text = "SEND\ndestination:/q%\n" + "".join(f"{name}:\x02\n" for name in names)
    args = (text, len(names), tuple(lead), headers, body, content_length)
    assert send_frame_outcome(True, *args) == send_frame_outcome(False, *args)


def test_send_frame_joins_values_and_declines_what_needs_the_general_path() -> None:
    text = "SEND\ndestination:/q%\ntransaction:\x02\nx-a:\x02\nx-b:\x02\n"
    pieces = serializer_module.send_pieces(text, 3)
    assert pieces == (b"SEND\ndestination:/q%\ntransaction:", b"\nx-a:", b"\nx-b:", b"\n")
    template = serializer_module.send_template(text, 3)
    assert template == "SEND\ndestination:/q%%\ntransaction:%s\nx-a:%s\nx-b:%s\n"
    for join, head in (
        (serializer_module._c_send_frame, pieces),
        (serializer_module.py_send_frame, template),
    ):
        assert join is not None
        assert (
            join(head, ("tx-1",), {"x-a": "1", "x-b": "é"}, b"a\0b", False)
            == (
                "SEND\ndestination:/q%\ntransaction:tx-1\nx-a:1\nx-b:é\ncontent-length:3\n\na\0b\0"
            ).encode()
        )
        assert join(head, ("tx-1",), {"x-a": "1", "x-b": "%s"}, b"", True) == (
            b"SEND\ndestination:/q%\ntransaction:tx-1\nx-a:1\nx-b:%s\n\n\0"
        )
        for bad in ("a:b", "a\nb", "a\\b", "a\rb", "a\0b", "\ud800"):
            assert join(head, ("tx-1",), {"x-a": "1", "x-b": bad}, b"", True) is None
        assert join(head, ("tx-1",), {"x-a": "1"}, b"", True) is None  # one value short
        assert join(head, (), {"x-a": "1", "x-b": "2"}, b"", True) is None
    for cut in (serializer_module.send_pieces, serializer_module.send_template):
        assert cut("SEND\ndestination:/q\x02\nx-a:\x02\n", 1) is None
