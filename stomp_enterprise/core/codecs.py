"""Typed payloads: codecs that turn objects into bodies and bodies into (validated) objects.

A codec is chosen by content type. JSON is built in: it writes pydantic models, dataclasses
and anything JSON-able with ``content-type: application/json;charset=utf-8``, and reads a
body back into a pydantic model (or any type pydantic can validate). Other codecs (msgpack,
protobuf, ...) come in two ways:

* as an argument: ``client.send(dest, obj, codec=MyCodec())``,
  ``client.subscribe(dest, handler, model=Order, codec=MyCodec())``;
* by registration, for every client of the process: :func:`register_codec`, or a package's
  entry point in the group ``stomp_enterprise.codecs`` naming a codec instance or class
  (loaded once, on the first look-up by content type).

Pure: no I/O. Decoding is lazy: ``message.model`` decodes and validates on first access and
remembers the result (or the failure).
"""

from __future__ import annotations

import dataclasses
import logging
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Final, Protocol, runtime_checkable

import pydantic
import pydantic_core

from stomp_enterprise.errors import ConfigError, PayloadError

__all__ = [
    "ENTRY_POINT_GROUP",
    "JSON",
    "Codec",
    "CodecRegistry",
    "JsonCodec",
    "codec_for",
    "decode_payload",
    "encode_payload",
    "is_structured",
    "media_type",
    "register_codec",
]

log = logging.getLogger(__name__)

#: Entry point group of codec plugins: each entry names a :class:`Codec` instance or class.
ENTRY_POINT_GROUP: Final = "stomp_enterprise.codecs"


@runtime_checkable
class Codec(Protocol):
    """Encodes objects to bodies and decodes bodies, for the content types it names.

    Attributes:
        content_type: the ``content-type`` written with an encoded body.
        content_types: the media types (no parameters, lower case) it decodes.
    """

    content_type: str
    content_types: tuple[str, ...]

    def encode(self, obj: Any) -> bytes:
        """The body for ``obj``; raises ``TypeError``/``ValueError`` for what it cannot
        encode. Any thread."""

    def decode(self, body: bytes, model: Any | None) -> Any:
        """The object in ``body``, validated as ``model`` when one is given; raises
        ``ValueError`` (``pydantic.ValidationError`` is one) when it cannot. Any thread."""


@lru_cache(maxsize=256)
def _adapter(model: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(model)


class JsonCodec:
    """The built-in JSON codec (pydantic's JSON, no extra dependency).

    Encodes pydantic models (``model_dump_json``, so aliases and serializers apply),
    dataclasses, mappings, sequences and the scalars JSON has; decodes into ``model`` with
    pydantic's strict-enough JSON validation, or into plain Python objects without one.
    """

    content_type: str = "application/json;charset=utf-8"
    content_types: tuple[str, ...] = ("application/json",)

    def encode(self, obj: Any) -> bytes:
        """JSON bytes for ``obj``. Any thread."""
        if isinstance(obj, pydantic.BaseModel):
            return obj.model_dump_json().encode()
        try:
            return pydantic_core.to_json(obj)
        except pydantic_core.PydanticSerializationError as exc:
            raise TypeError(f"{type(obj).__name__} is not JSON-serializable") from exc

    def decode(self, body: bytes, model: Any | None) -> Any:
        """The object in ``body`` (validated as ``model`` when given). Any thread."""
        if model is None:
            return pydantic_core.from_json(body)
        if isinstance(model, type) and issubclass(model, pydantic.BaseModel):
            return model.model_validate_json(body)
        return _adapter(model).validate_json(body)


#: The built-in JSON codec.
JSON: Final = JsonCodec()


def media_type(content_type: str | None) -> str | None:
    """``content_type`` without parameters, lower case (``None`` stays ``None``).

    Any thread (a pure function).
    """
    if content_type is None:
        return None
    return content_type.split(";", 1)[0].strip().lower()


class CodecRegistry:
    """Codecs by media type; JSON is always there.

    Any thread: each update is one dict assignment (atomic in CPython); the entry points
    are loaded at most once per racing thread, and loading one twice registers the same
    codec twice, which is harmless. Register your own codecs at start-up.

    Args:
        load_entry_points: load the ``stomp_enterprise.codecs`` entry points on the first
            look-up (the process-wide registry does).
    """

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._codecs: dict[str, Codec] = dict.fromkeys(JSON.content_types, JSON)
        self._load = load_entry_points

    def register(self, codec: Codec) -> None:
        """Use ``codec`` for each of its ``content_types`` (replacing an earlier one).

        Any thread (single dict operations, atomic in CPython; register at start-up).

        Raises:
            PayloadError: ``codec`` does not have the codec shape.
        """
        if not isinstance(codec, Codec) or not codec.content_types:
            raise PayloadError(
                f"{type(codec).__name__} is not a codec (needs content_type, content_types, "
                "encode and decode)"
            )
        for name in codec.content_types:
            self._codecs[name.lower()] = codec

    def get(self, content_type: str | None) -> Codec | None:
        """The codec for ``content_type`` (its parameters are ignored), or ``None``.

        Any thread (single dict operations, atomic in CPython; register at start-up).
        """
        name = media_type(content_type)
        if name is None:
            return None
        if self._load:
            self._load_entry_points()
        return self._codecs.get(name)

    def _load_entry_points(self) -> None:
        if not self._load:
            return
        self._load = False
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = entry.load()
                codec = loaded() if isinstance(loaded, type) else loaded
                self.register(codec)
            except Exception as exc:  # a broken plugin must not break receiving
                log.warning("codec entry point %r not loaded: %s", entry.value, exc)


_REGISTRY: Final = CodecRegistry()


def register_codec(codec: Codec) -> None:
    """Make ``codec`` the process-wide codec of its content types. Any thread.

    Raises:
        PayloadError: ``codec`` is not a codec.
    """
    _REGISTRY.register(codec)


def codec_for(content_type: str | None) -> Codec | None:
    """The registered codec of ``content_type``, or ``None``. Any thread."""
    return _REGISTRY.get(content_type)


def is_structured(obj: Any) -> bool:
    """Whether ``obj`` is a payload the default JSON codec takes without being asked: a
    pydantic model, a dataclass instance, a dict, a list or a tuple. (A bare number or
    ``None`` as a body is more likely a mistake than a JSON document; ``codec=JSON`` sends
    one on purpose.)

    Any thread (a pure function).
    """
    return isinstance(obj, pydantic.BaseModel | dict | list | tuple) or (
        dataclasses.is_dataclass(obj) and not isinstance(obj, type)
    )


def encode_payload(obj: Any, codec: Codec | None) -> tuple[bytes, str]:
    """``(body, content_type)`` for a typed payload, with ``codec`` (JSON when ``None``).

    Any thread (a pure function).

    Raises:
        ConfigError: no ``codec`` and ``obj`` is not structured (see :func:`is_structured`).
        PayloadError: the codec cannot encode ``obj`` (names its type, never its value).
    """
    if codec is None and not is_structured(obj):
        raise ConfigError(
            f"body must be bytes, str or a typed payload (pydantic model, dataclass, dict, "
            f"list), got {type(obj).__name__}; pass codec= for anything else"
        )
    chosen = JSON if codec is None else codec
    try:
        return chosen.encode(obj), chosen.content_type
    except (TypeError, ValueError) as exc:
        raise PayloadError(
            f"{type(chosen).__name__} cannot encode a {type(obj).__name__}: {type(exc).__name__}",
            content_type=chosen.content_type,
        ) from exc


def _reasons(exc: Exception) -> str:
    """What failed, without the input values (they may be secrets)."""
    if isinstance(exc, pydantic.ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)[:10]
        ]
        more = exc.error_count() - len(parts)
        return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return type(exc).__name__


def decode_payload(
    body: bytes, content_type: str | None, model: Any | None, codec: Codec | None
) -> Any:
    """The payload of a received body: ``codec`` (when given) or the registered codec of
    ``content_type`` decodes it, validated as ``model`` when given.

    Any thread (a pure function).

    Raises:
        PayloadError: no codec for the content type, or the codec or the validation failed
            (the message names the fields and reasons, never the values).
    """
    chosen = codec if codec is not None else codec_for(content_type)
    if chosen is None:
        # a body without a content-type is taken as JSON when a model asks for one
        if content_type is None and model is not None:
            chosen = JSON
        else:
            raise PayloadError(
                f"no codec for content-type {media_type(content_type)!r} "
                "(register one, or pass codec= to subscribe)",
                content_type=content_type,
            )
    what = "value" if model is None else getattr(model, "__name__", None) or repr(model)
    try:
        return chosen.decode(body, model)
    except ValueError as exc:
        raise PayloadError(
            f"the body is not a valid {what} ({type(chosen).__name__}): {_reasons(exc)}",
            content_type=content_type,
        ) from exc
