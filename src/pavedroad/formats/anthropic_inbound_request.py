"""Anthropic Messages request from a caller -> canonical (OpenAI) request.

Used when a caller speaks the Anthropic API (`POST /v1/messages`). The body is caller
input, so every shape problem is an InvalidRequest naming the exact path.

Lossy points, all deliberate:
- `system` text blocks are joined with newlines into one leading system message.
- `top_k`, `thinking`, `cache_control` markers, `service_tier` and citations settings are
  dropped: the canonical format cannot carry them.
- Assistant `thinking` / `redacted_thinking` blocks are dropped; assistant text blocks
  are concatenated into one string.
- A `tool_result` becomes a `role: tool` message with text only: `is_error` turns into
  an "Error: " prefix, and images inside it move to a user message right after the
  tool messages (OpenAI tool messages cannot hold images).
- Within a user turn, tool results are emitted before the turn's other content, because
  OpenAI requires tool messages to directly follow the assistant's tool calls.
"""

from __future__ import annotations

from typing import Any

from pavedroad.formats._json import dumps_compact
from pavedroad.formats._media import source_to_url
from pavedroad.formats._validate import (
    fail,
    need_bool,
    need_dict,
    need_list,
    need_number,
    need_positive_int,
    need_str,
)


def anthropic_to_openai_request(body: dict[str, Any]) -> dict[str, Any]:
    """Translate a caller's Anthropic request into the canonical request."""
    body = need_dict(body, "body")
    if body.get("model") is None:
        raise fail("model", "is required")
    if body.get("max_tokens") is None:
        raise fail("max_tokens", "is required by the Anthropic Messages API (e.g. 1024)")
    if body.get("messages") is None:
        raise fail("messages", "is required and must be a non-empty array")

    messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for i, raw in enumerate(need_list(body["messages"], "messages", non_empty=True)):
        messages.extend(_message(need_dict(raw, f"messages[{i}]"), f"messages[{i}]"))

    out: dict[str, Any] = {
        "model": need_str(body["model"], "model", non_empty=True),
        "messages": messages,
        "max_tokens": need_positive_int(body["max_tokens"], "max_tokens"),
    }
    _copy_parameters(body, out)
    _copy_tools(body, out)
    return out


# --- messages -----------------------------------------------------------------


def _system_text(system: Any) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    texts = []
    for j, raw in enumerate(need_list(system, "system")):
        block = need_dict(raw, f"system[{j}]")
        if block.get("type") != "text":
            raise fail(f"system[{j}].type", f'must be "text", got {block.get("type")!r}')
        texts.append(need_str(block.get("text"), f"system[{j}].text"))
    return "\n".join(texts)


def _message(msg: dict[str, Any], param: str) -> list[dict[str, Any]]:
    role = msg.get("role")
    if role not in ("user", "assistant"):
        raise fail(f"{param}.role", f'must be "user" or "assistant", got {role!r}')
    content = msg.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    blocks = need_list(content, f"{param}.content", non_empty=True)
    if role == "assistant":
        return [_assistant(blocks, f"{param}.content")]
    return _user(blocks, f"{param}.content")


def _block(raw: Any, param: str) -> tuple[dict[str, Any], str]:
    block = need_dict(raw, param)
    return block, need_str(block.get("type"), f"{param}.type")


def _user(blocks: list[Any], param: str) -> list[dict[str, Any]]:
    """One user turn -> tool messages first, then a user message with the rest."""
    tool_messages: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []  # images taken out of tool results
    parts: list[dict[str, Any]] = []
    for j, raw in enumerate(blocks):
        where = f"{param}[{j}]"
        block, kind = _block(raw, where)
        if kind == "tool_result":
            message, images = _tool_result(block, where)
            tool_messages.append(message)
            moved.extend(images)
        elif kind == "text":
            parts.append({"type": "text", "text": need_str(block.get("text"), f"{where}.text")})
        elif kind == "image":
            parts.append(_image_part(block, where))
        elif kind == "document":
            parts.append(_document_part(block, where))
        else:
            raise fail(
                f"{where}.type",
                'must be "text", "image", "document" or "tool_result" in user messages, '
                f"got {kind!r}",
            )
    parts = moved + parts
    if not parts:
        return tool_messages
    if len(parts) == 1 and parts[0]["type"] == "text":
        return [*tool_messages, {"role": "user", "content": parts[0]["text"]}]
    return [*tool_messages, {"role": "user", "content": parts}]


def _image_part(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = need_dict(block.get("source"), f"{param}.source")
    return {"type": "image_url", "image_url": {"url": source_to_url(source, f"{param}.source")}}


def _document_part(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = need_dict(block.get("source"), f"{param}.source")
    if source.get("type") != "base64" or source.get("media_type") != "application/pdf":
        raise fail(f"{param}.source", "only base64 PDF documents are supported")
    file: dict[str, Any] = {"file_data": source_to_url(source, f"{param}.source")}
    if isinstance(block.get("title"), str) and block["title"]:
        file["filename"] = block["title"]
    return {"type": "file", "file": file}


def _tool_result(block: dict[str, Any], param: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    call_id = need_str(block.get("tool_use_id"), f"{param}.tool_use_id", non_empty=True)
    content = block.get("content")
    images: list[dict[str, Any]] = []
    if content is None or isinstance(content, str):
        text = content or ""
    else:
        texts = []
        for k, raw in enumerate(need_list(content, f"{param}.content")):
            where = f"{param}.content[{k}]"
            inner, kind = _block(raw, where)
            if kind == "text":
                texts.append(need_str(inner.get("text"), f"{where}.text"))
            elif kind == "image":
                images.append(_image_part(inner, where))
            else:
                raise fail(f"{where}.type", f'must be "text" or "image", got {kind!r}')
        text = "\n".join(texts)
    is_error = block.get("is_error")
    if is_error is not None and need_bool(is_error, f"{param}.is_error"):
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": call_id, "content": text}, images


def _assistant(blocks: list[Any], param: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, raw in enumerate(blocks):
        where = f"{param}[{j}]"
        block, kind = _block(raw, where)
        if kind == "text":
            texts.append(need_str(block.get("text"), f"{where}.text"))
        elif kind == "tool_use":
            tool_input = block.get("input", {})
            calls.append(
                {
                    "id": need_str(block.get("id"), f"{where}.id", non_empty=True),
                    "type": "function",
                    "function": {
                        "name": need_str(block.get("name"), f"{where}.name", non_empty=True),
                        "arguments": dumps_compact(need_dict(tool_input, f"{where}.input")),
                    },
                }
            )
        elif kind not in ("thinking", "redacted_thinking"):
            raise fail(
                f"{where}.type",
                f'must be "text", "tool_use" or "thinking" in assistant messages, got {kind!r}',
            )
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
    }
    if calls:
        message["tool_calls"] = calls
    return message


# --- parameters -----------------------------------------------------------------


def _copy_parameters(body: dict[str, Any], out: dict[str, Any]) -> None:
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = need_number(body[key], key)
    if body.get("stop_sequences") is not None:
        stops = need_list(body["stop_sequences"], "stop_sequences")
        out["stop"] = [need_str(s, f"stop_sequences[{i}]") for i, s in enumerate(stops)]
    if body.get("stream") is not None:
        out["stream"] = need_bool(body["stream"], "stream")
        if out["stream"]:
            # The Anthropic stream reports usage, so we need the canonical one to as well.
            out["stream_options"] = {"include_usage": True}
    if body.get("metadata") is not None:
        user = need_dict(body["metadata"], "metadata").get("user_id")
        if user is not None:
            out["user"] = need_str(user, "metadata.user_id")


def _copy_tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    if body.get("tools") is not None:
        out["tools"] = [
            _tool(need_dict(raw, f"tools[{i}]"), f"tools[{i}]")
            for i, raw in enumerate(need_list(body["tools"], "tools"))
        ]
    if body.get("tool_choice") is None:
        return
    choice = need_dict(body["tool_choice"], "tool_choice")
    kind = choice.get("type")
    simple = {"auto": "auto", "any": "required", "none": "none"}
    if kind in simple:
        out["tool_choice"] = simple[kind]
    elif kind == "tool":
        name = need_str(choice.get("name"), "tool_choice.name", non_empty=True)
        out["tool_choice"] = {"type": "function", "function": {"name": name}}
    else:
        raise fail("tool_choice.type", f'must be "auto", "any", "tool" or "none", got {kind!r}')
    disable = choice.get("disable_parallel_tool_use")
    if disable is not None and need_bool(disable, "tool_choice.disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


def _tool(tool: dict[str, Any], param: str) -> dict[str, Any]:
    kind = tool.get("type")
    if kind not in (None, "custom"):
        raise fail(
            f"{param}.type",
            f"{kind!r} is an Anthropic built-in tool, which this gateway cannot serve; "
            "define a custom tool with name, description and input_schema",
        )
    function: dict[str, Any] = {"name": need_str(tool.get("name"), f"{param}.name", non_empty=True)}
    if tool.get("description") is not None:
        function["description"] = need_str(tool["description"], f"{param}.description")
    function["parameters"] = need_dict(tool.get("input_schema"), f"{param}.input_schema")
    return {"type": "function", "function": function}
