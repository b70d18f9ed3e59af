"""The model list. Any model name is accepted in requests; these are just advertised."""

from __future__ import annotations

from typing import Any

__all__ = ["MODEL_IDS", "anthropic_models", "openai_models"]

MODEL_IDS = ("sim-chat", "sim-chat-mini", "sim-claude", "sim-embedding")
_CREATED = 1_700_000_000  # fixed, so the listing is byte-for-byte reproducible


def openai_models() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": _CREATED, "owned_by": "pavedroad-sim"} for m in MODEL_IDS
        ],
    }


def anthropic_models() -> dict[str, Any]:
    data = [
        {
            "type": "model",
            "id": m,
            "display_name": m,
            "created_at": "2023-11-14T22:13:20Z",
        }
        for m in MODEL_IDS
    ]
    return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
