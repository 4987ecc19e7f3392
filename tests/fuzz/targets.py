"""The fuzz targets, their share of a run's cases and their input size bound."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CORPUS", "TARGETS", "Target"]

CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class Target:
    name: str
    module: str  # imported on use: the server targets start a node
    function: str
    share: float  # of the total cases of a full run
    max_len: int  # bytes: a bit over the 64 KiB frame/body limit is not needed to find bugs
    doc: str

    def load(self) -> Callable[[bytes], None]:
        import importlib

        fn: Callable[[bytes], None] = getattr(importlib.import_module(self.module), self.function)
        return fn

    @property
    def corpus(self) -> Path:
        return CORPUS / self.name


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "http_body",
            "fuzz.decoders",
            "http_body_target",
            0.18,
            8192,
            "HTTP request body: decode_payload (JSON/msgpack by Content-Type), args, params",
        ),
        Target(
            "params_header",
            "fuzz.decoders",
            "params_header_target",
            0.08,
            5000,
            "X-Actorkit-Params header: parse_params (JSON, 4 KiB limit)",
        ),
        Target(
            "ws_frame_json",
            "fuzz.decoders",
            "ws_frame_json_target",
            0.18,
            8192,
            "WebSocket frame, actorkit.json: Codec.decode_client/decode_server",
        ),
        Target(
            "ws_frame_msgpack",
            "fuzz.decoders",
            "ws_frame_msgpack_target",
            0.18,
            8192,
            "WebSocket frame, actorkit.msgpack: Codec.decode_client/decode_server",
        ),
        Target(
            "action_args",
            "fuzz.decoders",
            "action_args_target",
            0.14,
            4096,
            "action arguments converted to type hints: ActionSpec.bind (msgspec.convert)",
        ),
        Target(
            "keys",
            "fuzz.decoders",
            "keys_target",
            0.08,
            4096,
            "actor keys and names: normalize_key, validate_name",
        ),
        Target(
            "ws_session",
            "fuzz.server",
            "ws_session_target",
            0.10,
            16384,
            "a whole WebSocket session: ConnectionSession.feed against an in-process node",
        ),
        Target(
            "http_route",
            "fuzz.server",
            "http_route_target",
            0.06,
            16384,
            "HTTP routes through the ASGI app in-process (action, resolve, find, get)",
        ),
    )
}
