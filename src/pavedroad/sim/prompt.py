"""The provider-neutral view of a chat request that the reply generator works from.

Both wire formats parse into this so that the reply rules (tools, JSON modes, stop,
max tokens) are written once and behave identically for OpenAI and Anthropic callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["Finish", "JsonMode", "Prompt", "ToolMode", "ToolSpec"]


class ToolMode(Enum):
    AUTO = "auto"
    NONE = "none"
    NAMED = "named"


class JsonMode(Enum):
    OFF = "off"
    OBJECT = "object"
    SCHEMA = "schema"


class Finish(Enum):
    """Why generation ended; each wire format maps it to its own vocabulary."""

    END = "end"
    STOP_SEQUENCE = "stop_sequence"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    name: str
    schema: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """What the simulated model "reads": only the parts that change its reply."""

    model: str
    # Every text the caller sent (system, messages, tool results), for prompt_tokens.
    texts: list[str]
    last_user_text: str = ""
    # Set when the conversation ends with tool output: the model must answer it in text.
    tool_results: list[str] | None = None
    tools: list[ToolSpec] = field(default_factory=list)
    tool_mode: ToolMode = ToolMode.AUTO
    tool_name: str | None = None
    parallel_tools: bool = True
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    json_mode: JsonMode = JsonMode.OFF
    json_schema: dict[str, Any] = field(default_factory=dict)
