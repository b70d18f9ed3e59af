"""Turn a request body into a typed struct, or a 400 that says exactly what was wrong."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from pavedroad.sim.errors import Reject

__all__ = ["decode_body"]

T = TypeVar("T")


def decode_body(body: bytes, kind: type[T]) -> T:
    if not body.strip():
        raise Reject(400, "Request body is empty; expected a JSON object.")
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise Reject(400, f"Invalid request: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise Reject(400, f"Request body is not valid JSON: {exc}") from exc
