"""Typed payload codecs: JSON built in, registry by content type, entry points (pure)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stomp_enterprise.core import codecs
from stomp_enterprise.core.codecs import (
    JSON,
    CodecRegistry,
    decode_payload,
    encode_payload,
    media_type,
)
from stomp_enterprise.errors import ConfigError, PayloadError


class Order(pydantic.BaseModel):
    id: int
    item: str
    secret: str = "x"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Upper:
    """A toy codec for text/x-upper."""

    content_type = "text/x-upper;charset=utf-8"
    content_types = ("text/x-upper",)

    def encode(self, obj: Any) -> bytes:
        if not isinstance(obj, str):
            raise TypeError("str only")
        return obj.upper().encode()

    def decode(self, body: bytes, model: Any | None) -> Any:
        return body.decode().lower()


def test_json_encodes_models_dataclasses_and_containers() -> None:
    assert encode_payload(Order(id=1, item="a"), None) == (
        b'{"id":1,"item":"a","secret":"x"}',
        "application/json;charset=utf-8",
    )
    assert encode_payload(Point(1, 2), None)[0] == b'{"x":1,"y":2}'
    assert encode_payload({"a": [1, 2]}, None)[0] == b'{"a":[1,2]}'
    assert encode_payload((1, "b"), None)[0] == b'[1,"b"]'


@pytest.mark.parametrize("body", [12345, None, 1.5, object(), {1, 2}])
def test_unstructured_objects_need_an_explicit_codec(body) -> None:
    with pytest.raises(ConfigError, match="codec="):
        encode_payload(body, None)


def test_an_explicit_codec_takes_anything_it_can() -> None:
    assert encode_payload(7, JSON) == (b"7", JSON.content_type)
    assert encode_payload("hi", Upper()) == (b"HI", "text/x-upper;charset=utf-8")
    with pytest.raises(PayloadError, match="Upper cannot encode a int"):
        encode_payload(7, Upper())
    with pytest.raises(PayloadError, match="JsonCodec cannot encode a list"):
        encode_payload([object()], None)


def test_decode_into_a_model_and_plain_objects() -> None:
    body = b'{"id": 3, "item": "pen"}'
    assert decode_payload(body, "application/json", Order, None) == Order(id=3, item="pen")
    assert decode_payload(body, "Application/JSON; charset=utf-8", None, None) == {
        "id": 3,
        "item": "pen",
    }
    assert decode_payload(b"[1,2]", "application/json", list[int], None) == [1, 2]
    assert decode_payload(b'{"x":1,"y":2}', "application/json", Point, None) == Point(1, 2)
    # no content-type, but a model asks for JSON
    assert decode_payload(body, None, Order, None) == Order(id=3, item="pen")


def test_a_validation_failure_names_fields_and_reasons_but_never_values() -> None:
    body = b'{"id": "not-a-number", "item": 5, "secret": "hunter2-password"}'
    with pytest.raises(PayloadError) as info:
        decode_payload(body, "application/json", Order, None)
    text = str(info.value)
    assert "Order" in text
    assert "id:" in text
    assert "item:" in text
    assert "not-a-number" not in text
    assert "hunter2" not in text
    assert isinstance(info.value.__cause__, pydantic.ValidationError)
    assert info.value.content_type == "application/json"


def test_invalid_json_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="not a valid value"):
        decode_payload(b"{nope", "application/json", None, None)


def test_no_codec_for_the_content_type() -> None:
    with pytest.raises(PayloadError, match="text/csv"):
        decode_payload(b"a,b", "text/csv;charset=utf-8", None, None)
    with pytest.raises(PayloadError):
        decode_payload(b"x", None, None, None)


def test_an_argument_codec_wins_over_the_content_type() -> None:
    assert decode_payload(b"HELLO", "application/json", None, Upper()) == "hello"


def test_registry_by_media_type() -> None:
    registry = CodecRegistry(load_entry_points=False)
    assert registry.get("application/json;charset=utf-8") is JSON
    assert registry.get("text/x-upper") is None
    upper = Upper()
    registry.register(upper)
    assert registry.get("TEXT/X-UPPER; charset=utf-8") is upper
    assert registry.get(None) is None
    with pytest.raises(PayloadError, match="not a codec"):
        registry.register(object())  # type: ignore[arg-type]


def test_media_type() -> None:
    assert media_type("Application/Json ; charset=UTF-8") == "application/json"
    assert media_type(None) is None


class _EntryPoint:
    def __init__(self, value: str, loaded: Any) -> None:
        self.value = value
        self._loaded = loaded

    def load(self) -> Any:
        if isinstance(self._loaded, Exception):
            raise self._loaded
        return self._loaded


def test_entry_points_are_loaded_once_and_a_broken_one_is_logged(monkeypatch, caplog) -> None:
    calls: list[str] = []

    def fake_entry_points(*, group: str) -> list[_EntryPoint]:
        calls.append(group)
        return [
            _EntryPoint("broken_pkg:codec", ImportError("no module named broken_pkg")),
            _EntryPoint("upper_pkg:Upper", Upper),  # a class: instantiated
        ]

    monkeypatch.setattr(codecs, "entry_points", fake_entry_points)
    registry = CodecRegistry()
    with caplog.at_level(logging.WARNING, logger="stomp_enterprise.core.codecs"):
        assert isinstance(registry.get("text/x-upper"), Upper)
        assert registry.get("text/x-upper") is registry.get("text/x-upper")
    assert calls == ["stomp_enterprise.codecs"]
    assert "broken_pkg:codec" in caplog.text


def test_register_codec_is_process_wide(monkeypatch) -> None:
    registry = CodecRegistry(load_entry_points=False)
    monkeypatch.setattr(codecs, "_REGISTRY", registry)
    codecs.register_codec(Upper())
    assert decode_payload(b"ABC", "text/x-upper", None, None) == "abc"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_json_round_trip(value: dict[str, Any]) -> None:
    body, content_type = encode_payload(value, None)
    assert decode_payload(body, content_type, None, None) == value
    assert decode_payload(body, content_type, dict[str, Any], None) == value
