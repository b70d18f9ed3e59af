"""JSON text helpers for tool-call arguments.

OpenAI carries tool arguments as a JSON *string*; Anthropic carries them as an object.
Both directions go through here so the encoding (compact, UTF-8 kept) is identical.
"""

from __future__ import annotations

import json
from typing import Any


def dumps_compact(value: Any) -> str:
    """Compact JSON, non-ASCII kept as-is, the shape OpenAI itself emits for arguments."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def loads_object(text: str) -> dict[str, Any] | None:
    """Parse a JSON object; None when the text is not JSON or not an object.

    Blank text counts as `{}`: some clients send "" for tools that take no arguments.
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
