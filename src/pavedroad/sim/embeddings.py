"""Deterministic embeddings: the same input always maps to the same unit vector.

Vectors come from SHA-256 of the input, so they are stable across runs and machines and
different inputs are (almost surely) different, which is all a gateway test needs.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Annotated, Any, Literal

import msgspec

from pavedroad.sim.decode import decode_body
from pavedroad.sim.errors import Reject
from pavedroad.sim.text import count_tokens

__all__ = [
    "DEFAULT_DIMENSIONS",
    "EmbeddingsRequest",
    "embedding_vector",
    "embeddings_body",
    "parse_embeddings",
]

DEFAULT_DIMENSIONS = 16
_MAX_DIMENSIONS = 8192


class EmbeddingsRequest(msgspec.Struct, kw_only=True):
    input: Any
    model: str | None = None
    dimensions: Annotated[int, msgspec.Meta(ge=1, le=_MAX_DIMENSIONS)] | None = None
    encoding_format: Literal["float", "base64"] | None = "float"


def parse_embeddings(body: bytes, *, deployment: str | None = None) -> EmbeddingsRequest:
    req = decode_body(body, EmbeddingsRequest)
    model = deployment or req.model
    if not model:
        raise Reject(400, "you must provide a model parameter")
    _inputs(req.input)  # validate early, before any fault is consumed
    return msgspec.structs.replace(req, model=model)


def embedding_vector(key: bytes, dimensions: int) -> list[float]:
    """A unit vector seeded by `key`; float32-rounded so base64 and float forms agree."""
    raw: list[float] = []
    block = 0
    while len(raw) < dimensions:
        digest = hashlib.sha256(block.to_bytes(4, "big") + key).digest()
        raw.extend(v / 2**31 - 1.0 for v in struct.unpack(">8I", digest))
        block += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in raw))
    return list(struct.unpack(f"<{dimensions}f", packed))


def embeddings_body(req: EmbeddingsRequest) -> dict[str, Any]:
    dims = req.dimensions or DEFAULT_DIMENSIONS
    data = []
    tokens = 0
    for index, (key, used) in enumerate(_inputs(req.input)):
        vector = embedding_vector(key, dims)
        tokens += used
        encoded: Any = vector
        if req.encoding_format == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    return {
        "object": "list",
        "data": data,
        "model": req.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _inputs(value: Any) -> list[tuple[bytes, int]]:
    """(hash key, token count) per input: a string, strings, a token array, or arrays."""
    if isinstance(value, str):
        return [_text_key(value)]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return [_text_key(v) for v in value]
        if all(_is_int(v) for v in value):
            return [_tokens_key(value)]
        if all(isinstance(v, list) and v and all(_is_int(t) for t in v) for v in value):
            return [_tokens_key(v) for v in value]
    raise Reject(400, "'input' must be a non-empty string, array of strings, or array(s) of token ids")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_key(text: str) -> tuple[bytes, int]:
    if not text:
        raise Reject(400, "'input' cannot contain an empty string")
    return b"text:" + text.encode(), count_tokens(text)


def _tokens_key(tokens: list[int]) -> tuple[bytes, int]:
    return b"tokens:" + ",".join(map(str, tokens)).encode(), len(tokens)
