"""What can go wrong on purpose: the fault record and its two spellings (JSON and header).

A fault is plain data; the endpoints and the stream driver read it. Keeping it a frozen
msgspec struct gives strict validation of control-API input for free, and the same type
accepts the compact header syntax by converting strings leniently.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

__all__ = ["FAULT_HEADER", "Fault", "FaultError", "fault_from_header", "fault_from_json"]

FAULT_HEADER = "x-sim-fault"

_Ms = Annotated[int, msgspec.Meta(ge=0)]
_Count = Annotated[int, msgspec.Meta(ge=0)]


class FaultError(ValueError):
    """A fault spec was not understood; the caller gets a 400, never a silent no-op."""


class Fault(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One injected misbehaviour. Every field is optional; the empty fault changes nothing."""

    status: Annotated[int, msgspec.Meta(ge=400, le=599)] | None = None
    retry_after: Annotated[float, msgspec.Meta(ge=0)] | None = None
    latency_ms: _Ms = 0
    first_token_ms: _Ms = 0
    chunk_delay_ms: _Ms = 0
    reset_after_chunks: _Count | None = None
    truncate_after_chunks: _Count | None = None
    malformed_json: bool = False
    cached_tokens: _Count = 0
    cache_write_tokens: _Count = 0  # Anthropic format: cache_creation_input_tokens
    omit_usage: bool = False  # OpenAI format: no usage at all, as some compatible servers
    content: str | None = None


def fault_from_json(raw: Any) -> Fault:
    """Validate a JSON-decoded fault object (control API)."""
    if not isinstance(raw, dict):
        raise FaultError("fault must be a JSON object")
    try:
        return msgspec.convert(raw, Fault)
    except msgspec.ValidationError as exc:
        raise FaultError(f"invalid fault: {exc}") from exc


def fault_from_header(value: str) -> Fault:
    """Parse `key=value;key=value`; dashes in keys are allowed because headers invite them."""
    fields: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        if not sep:
            raise FaultError(f"invalid {FAULT_HEADER} entry {part.strip()!r}: expected key=value")
        fields[key.strip().lower().replace("-", "_")] = val.strip()
    try:
        # strict=False is what turns "503" into 503 and "true" into True.
        return msgspec.convert(fields, Fault, strict=False)
    except msgspec.ValidationError as exc:
        raise FaultError(f"invalid {FAULT_HEADER} header: {exc}") from exc
