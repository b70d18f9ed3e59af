"""Images and documents: OpenAI carries them as URLs, Anthropic as typed sources."""

from __future__ import annotations

from typing import Any

from pavedroad.formats._validate import fail

# The media types Anthropic accepts for image blocks; anything else it rejects with 400.
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def split_data_url(url: str, param: str) -> tuple[str, str]:
    """`data:<type>;base64,<data>` -> (media type, base64 data)."""
    header, sep, data = url.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise fail(param, "must be a base64 data URL like data:image/png;base64,<data>")
    media_type = header[len("data:") : -len(";base64")].strip().lower()
    if not media_type or not data:
        raise fail(param, "must be a base64 data URL like data:image/png;base64,<data>")
    return media_type, data


def image_url_to_source(url: str, param: str) -> dict[str, Any]:
    """An OpenAI image URL (http(s) or data:) as an Anthropic image source."""
    if url.startswith("data:"):
        media_type, data = split_data_url(url, param)
        if media_type not in IMAGE_MEDIA_TYPES:
            allowed = ", ".join(sorted(IMAGE_MEDIA_TYPES))
            raise fail(param, f"has media type {media_type!r}; Anthropic accepts {allowed}")
        return {"type": "base64", "media_type": media_type, "data": data}
    if url.startswith(("http://", "https://")):
        return {"type": "url", "url": url}
    raise fail(param, "must be an http(s) URL or a base64 data URL")


def source_to_url(source: dict[str, Any], param: str) -> str:
    """An Anthropic base64/url source as the URL string OpenAI parts carry."""
    kind = source.get("type")
    if kind == "base64":
        media_type = source.get("media_type")
        data = source.get("data")
        if not isinstance(media_type, str) or not isinstance(data, str) or not data:
            raise fail(param, "base64 source needs string media_type and non-empty data")
        return f"data:{media_type};base64,{data}"
    if kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise fail(f"{param}.url", "must be a non-empty string")
        return url
    raise fail(f"{param}.type", f'must be "base64" or "url", got {kind!r}')
