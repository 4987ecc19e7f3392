"""Encoding, snapshots and the persisted format of actor state.

Persisted state is an envelope ``[format, state_version, data]`` in msgpack, so a later
release (``format``) and a later actor class (``state_version``, via ``migrate_state``) can
read what an earlier one wrote.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from actorkit.errors import ActorError, Code, StorageError

__all__ = ["FORMAT_VERSION", "STATE_KEY", "decode_state", "encode_envelope", "encode_state"]

FORMAT_VERSION = 1
STATE_KEY = b"state"


class _Envelope(msgspec.Struct, array_like=True):
    format: int
    version: int
    data: msgspec.Raw


_encoder = msgspec.msgpack.Encoder()
_envelope_decoder = msgspec.msgpack.Decoder(_Envelope)


def encode_state(value: Any) -> bytes:
    """msgpack bytes of a state value; ``state_not_serializable`` if it cannot be encoded."""
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ActorError(
            "actor", Code.STATE_NOT_SERIALIZABLE, f"state cannot be serialized: {exc}"
        ) from None


def decode_value(data: bytes, type_: Any) -> Any:
    return msgspec.msgpack.decode(data, type=type_)


def encode_envelope(data: bytes, version: int) -> bytes:
    # The envelope is a 3-array whose last item is ``data`` verbatim, so it is a fixed
    # prefix per version followed by ``data``: no re-encoding of the state on the hot path.
    return _envelope_prefix(version) + data


@functools.lru_cache(maxsize=64)
def _envelope_prefix(version: int) -> bytes:
    return _encoder.encode(_Envelope(FORMAT_VERSION, version, msgspec.Raw(b"")))


def decode_state(stored: bytes) -> tuple[int, bytes]:
    """``(state_version, state bytes)`` from a persisted envelope."""
    try:
        env = _envelope_decoder.decode(stored)
    except msgspec.DecodeError as exc:
        raise StorageError(f"persisted state is corrupt: {exc}") from None
    if env.format > FORMAT_VERSION:
        raise StorageError(
            f"persisted state has format {env.format}; this actorkit reads up to "
            f"{FORMAT_VERSION}: upgrade actorkit"
        )
    return env.version, bytes(env.data)
