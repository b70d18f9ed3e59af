"""Canonical (OpenAI Chat Completions) request -> Anthropic Messages request.

Used when a canonical request is served by an Anthropic deployment. Anthropic is
stricter than OpenAI (strict user/assistant alternation, system outside the turns,
tool results inside user turns), so this reshapes rather than renames.

Lossy points, all deliberate:
- system/developer messages anywhere in the conversation are hoisted, in order, into the
  single top-level `system` string (joined with a blank line).
- `response_format` (json_object / json_schema) has no Anthropic equivalent; it becomes an
  instruction appended to `system` asking for only a JSON object (with the schema
  serialized into the instruction). Nothing enforces it.
- `temperature` is clamped to Anthropic's 0..1 range (OpenAI allows up to 2).
- Empty text parts and messages left with no content are dropped (Anthropic rejects
  empty text blocks); message `name` fields are dropped.
- Fields Anthropic cannot express are dropped silently: seed, logprobs, top_logprobs,
  presence_penalty, frequency_penalty, logit_bias, stream_options, metadata, store,
  service_tier, reasoning_effort, tools' `strict`, ... Only `n` > 1 is an error, because
  silently returning one choice when several were asked for would break the caller.
- `tool_choice` / `parallel_tool_calls` without any tools are dropped.
"""

from __future__ import annotations

from typing import Any

from pavedroad.formats._json import dumps_compact, loads_object
from pavedroad.formats._media import image_url_to_source, split_data_url
from pavedroad.formats._validate import (
    fail,
    need_bool,
    need_dict,
    need_list,
    need_number,
    need_positive_int,
    need_str,
    str_list,
)

_JSON_INSTRUCTION = (
    "Respond with only a single valid JSON object: no prose, no explanations and no "
    "Markdown code fences before or after it."
)


def openai_to_anthropic_request(
    body: dict[str, Any], *, model: str, default_max_tokens: int = 4096
) -> dict[str, Any]:
    """Translate a canonical request for the upstream Anthropic model `model`."""
    body = need_dict(body, "body")
    n = body.get("n")
    if n is not None and n != 1:
        raise fail("n", f"must be 1 for Anthropic models, which return one choice; got {n!r}")
    if body.get("messages") is None:
        raise fail("messages", "is required and must be a non-empty array")
    messages = need_list(body["messages"], "messages", non_empty=True)
    system_texts, turns = _convert_messages(messages)
    if not turns:
        raise fail("messages", "must contain at least one user or assistant message with content")

    out: dict[str, Any] = {
        "model": model,
        "max_tokens": _max_tokens(body, default_max_tokens),
        "messages": turns,
    }
    instruction = _response_format_instruction(body.get("response_format"))
    if instruction:
        system_texts.append(instruction)
    if system_texts:
        out["system"] = "\n\n".join(system_texts)
    _copy_sampling(body, out)
    _copy_tools(body, out)
    return out


# --- messages -----------------------------------------------------------------


def _convert_messages(messages: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Split into system texts and alternating Anthropic turns."""
    system_texts: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, raw in enumerate(messages):
        param = f"messages[{i}]"
        msg = need_dict(raw, param)
        role = msg.get("role")
        if role in ("system", "developer"):
            text = _text_content(msg.get("content"), f"{param}.content")
            if text:
                system_texts.append(text)
        elif role == "user":
            _append_turn(turns, "user", _user_blocks(msg.get("content"), f"{param}.content"))
        elif role == "assistant":
            _append_turn(turns, "assistant", _assistant_blocks(msg, param))
        elif role == "tool":
            _append_turn(turns, "user", [_tool_result(msg, param)])
        else:
            raise fail(
                f"{param}.role",
                f'must be one of "system", "developer", "user", "assistant", "tool"; got {role!r}',
            )
    for turn in turns:
        if turn["role"] == "user":
            # Anthropic wants tool results before anything else in a user turn.
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return system_texts, turns


def _append_turn(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Append, merging into the previous turn when roles repeat (Anthropic alternation)."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _text_content(content: Any, param: str) -> str:
    """Content that may only hold text (system, developer and tool messages)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = need_list(content, param)
    texts: list[str] = []
    for j, raw in enumerate(parts):
        part = need_dict(raw, f"{param}[{j}]")
        if part.get("type") != "text":
            raise fail(f"{param}[{j}].type", f'must be "text" here, got {part.get("type")!r}')
        texts.append(need_str(part.get("text"), f"{param}[{j}].text"))
    return "\n".join(texts)


def _user_blocks(content: Any, param: str) -> list[dict[str, Any]]:
    if content is None:
        raise fail(param, "is required for user messages")
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for j, raw in enumerate(need_list(content, param)):
        block = _user_part(need_dict(raw, f"{param}[{j}]"), f"{param}[{j}]")
        if block is not None:
            blocks.append(block)
    return blocks


def _user_part(part: dict[str, Any], param: str) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind == "text":
        text = need_str(part.get("text"), f"{param}.text")
        return {"type": "text", "text": text} if text else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image if isinstance(image, str) else need_dict(image, f"{param}.image_url").get("url")
        url = need_str(url, f"{param}.image_url.url", non_empty=True)
        return {"type": "image", "source": image_url_to_source(url, f"{param}.image_url.url")}
    if kind == "file":
        return _document(need_dict(part.get("file"), f"{param}.file"), f"{param}.file")
    if kind == "input_audio":
        raise fail(f"{param}.type", "audio input is not supported by Anthropic models")
    raise fail(f"{param}.type", f'must be "text", "image_url" or "file", got {kind!r}')


def _document(file: dict[str, Any], param: str) -> dict[str, Any]:
    """A PDF passed inline as a file part; Anthropic has no file-id store we can reach."""
    data_url = file.get("file_data")
    if not isinstance(data_url, str):
        raise fail(f"{param}.file_data", "must be a base64 data URL (file_id is not supported)")
    media_type, data = split_data_url(data_url, f"{param}.file_data")
    if media_type != "application/pdf":
        raise fail(f"{param}.file_data", f"must be a PDF for Anthropic models, got {media_type}")
    block: dict[str, Any] = {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": data},
    }
    if isinstance(file.get("filename"), str) and file["filename"]:
        block["title"] = file["filename"]
    return block


def _assistant_blocks(msg: dict[str, Any], param: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    content = msg.get("content")
    if isinstance(content, str):
        if content:
            blocks.append({"type": "text", "text": content})
    elif content is not None:
        for j, raw in enumerate(need_list(content, f"{param}.content")):
            part = need_dict(raw, f"{param}.content[{j}]")
            kind = part.get("type")
            if kind not in ("text", "refusal"):
                raise fail(
                    f"{param}.content[{j}].type",
                    f'must be "text" or "refusal" in assistant messages, got {kind!r}',
                )
            text = need_str(part.get(kind), f"{param}.content[{j}].{kind}")
            if text:
                blocks.append({"type": "text", "text": text})
    calls = msg.get("tool_calls")
    if calls is not None:
        for k, call in enumerate(need_list(calls, f"{param}.tool_calls")):
            blocks.append(_tool_use(need_dict(call, f"{param}.tool_calls[{k}]"), k, param))
    return blocks


def _tool_use(call: dict[str, Any], k: int, param: str) -> dict[str, Any]:
    where = f"{param}.tool_calls[{k}]"
    if call.get("type", "function") != "function":
        raise fail(f"{where}.type", f'must be "function", got {call.get("type")!r}')
    call_id = need_str(call.get("id"), f"{where}.id", non_empty=True)
    function = need_dict(call.get("function"), f"{where}.function")
    name = need_str(function.get("name"), f"{where}.function.name", non_empty=True)
    arguments = function.get("arguments")
    if arguments is None:
        arguments = ""
    arguments = need_str(arguments, f"{where}.function.arguments")
    parsed = loads_object(arguments)
    if parsed is None:
        raise fail(f"{where}.function.arguments", "must be a JSON object encoded as a string")
    return {"type": "tool_use", "id": call_id, "name": name, "input": parsed}


def _tool_result(msg: dict[str, Any], param: str) -> dict[str, Any]:
    call_id = need_str(msg.get("tool_call_id"), f"{param}.tool_call_id", non_empty=True)
    text = _text_content(msg.get("content"), f"{param}.content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
    if text:
        block["content"] = text
    return block


# --- parameters -----------------------------------------------------------------


def _max_tokens(body: dict[str, Any], default: int) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            return need_positive_int(body[key], key)
    return default


def _copy_sampling(body: dict[str, Any], out: dict[str, Any]) -> None:
    if body.get("temperature") is not None:
        temperature = float(need_number(body["temperature"], "temperature"))
        out["temperature"] = min(1.0, max(0.0, temperature))
    if body.get("top_p") is not None:
        out["top_p"] = need_number(body["top_p"], "top_p")
    if body.get("stop") is not None:
        stops = [s for s in str_list(body["stop"], "stop") if s.strip()]
        if stops:
            out["stop_sequences"] = stops
    if body.get("stream") is not None:
        out["stream"] = need_bool(body["stream"], "stream")
    if body.get("user") is not None:
        out["metadata"] = {"user_id": need_str(body["user"], "user")}


def _response_format_instruction(response_format: Any) -> str | None:
    if response_format is None:
        return None
    fmt = need_dict(response_format, "response_format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return _JSON_INSTRUCTION
    if kind == "json_schema":
        spec = need_dict(fmt.get("json_schema"), "response_format.json_schema")
        schema = spec.get("schema", {})
        need_dict(schema, "response_format.json_schema.schema")
        return f"{_JSON_INSTRUCTION} It must match this JSON Schema:\n{dumps_compact(schema)}"
    raise fail(
        "response_format.type", f'must be "text", "json_object" or "json_schema", got {kind!r}'
    )


def _copy_tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None or tools == []:
        return
    out["tools"] = [
        _tool(need_dict(tool, f"tools[{i}]"), f"tools[{i}]")
        for i, tool in enumerate(need_list(tools, "tools"))
    ]
    choice = _tool_choice(body.get("tool_choice"))
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not need_bool(parallel, "parallel_tool_calls"):
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice is not None:
        out["tool_choice"] = choice


def _tool(tool: dict[str, Any], param: str) -> dict[str, Any]:
    if tool.get("type", "function") != "function":
        raise fail(f"{param}.type", f'must be "function", got {tool.get("type")!r}')
    function = need_dict(tool.get("function"), f"{param}.function")
    out: dict[str, Any] = {
        "name": need_str(function.get("name"), f"{param}.function.name", non_empty=True)
    }
    if function.get("description") is not None:
        out["description"] = need_str(function["description"], f"{param}.function.description")
    schema = function.get("parameters")
    if schema is None:
        schema = {"type": "object", "properties": {}}
    out["input_schema"] = need_dict(schema, f"{param}.function.parameters")
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    simple = {"auto": "auto", "required": "any", "none": "none"}
    if isinstance(choice, str):
        if choice not in simple:
            raise fail(
                "tool_choice", f'must be "auto", "required", "none" or an object; got {choice!r}'
            )
        return {"type": simple[choice]}
    spec = need_dict(choice, "tool_choice")
    if spec.get("type") != "function":
        raise fail(
            "tool_choice.type",
            f'must be "function" when tool_choice is an object, got {spec.get("type")!r}',
        )
    function = need_dict(spec.get("function"), "tool_choice.function")
    name = need_str(function.get("name"), "tool_choice.function.name", non_empty=True)
    return {"type": "tool", "name": name}
