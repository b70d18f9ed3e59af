"""Cost attribution: tags from a request header merged over the key's and app's, and the
end user a request is made for.

`x-pavedroad-tags: feature=search,env=prod` adds or overrides tags for one request. Tags
become ledger columns and daily rollups, so their shape is checked: a bad header is a 400,
never silently dropped or stored half-parsed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pavedroad.core.errors import InvalidRequest

TAGS_HEADER = "x-pavedroad-tags"
USER_HEADER = "x-pavedroad-user"
MAX_TAGS = 16  # per request, after merging
MAX_HEADER_CHARS = 1024
MAX_USER_CHARS = 256
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+-]{1,128}$")


def parse_tags(header: str) -> dict[str, str]:
    """`k=v,k2=v2` -> dict. Keys: letters, digits, `_ . -` (64 at most); values: letters,
    digits, `_ . : / @ + -` (128 at most). Empty entries (`a=1,,b=2`) are ignored."""
    if len(header) > MAX_HEADER_CHARS:
        raise _bad(f"is longer than {MAX_HEADER_CHARS} characters")
    tags: dict[str, str] = {}
    for raw in header.split(","):
        entry = raw.strip()
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            raise _bad(f"entry {entry!r} is not key=value")
        if not _KEY.match(key):
            raise _bad(f"tag key {key!r} must be letters, digits, _ . - (at most 64)")
        if not _VALUE.match(value):
            raise _bad(f"tag {key!r} value must be 1-128 letters, digits or _ . : / @ + -")
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise _bad(f"has {len(tags)} tags; at most {MAX_TAGS}")
    return tags


def merge_tags(defaults: Mapping[str, str], header: str | None) -> dict[str, str]:
    """The key's and app's tags, overridden and extended by the request header's."""
    if not header:
        return dict(defaults)
    merged = {**defaults, **parse_tags(header)}
    if len(merged) > MAX_TAGS:
        raise _bad(f"together with the key's tags makes {len(merged)} tags; at most {MAX_TAGS}")
    return merged


def end_user(header: str | None, body_user: object) -> str | None:
    """The end user a request is made for: the `x-pavedroad-user` header, else the body's
    `user` field (OpenAI) or `metadata.user_id` (Anthropic), passed in as `body_user`."""
    value = header if header else body_user
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest("the end user (`user`) must be a string", param="user")
    if len(value) > MAX_USER_CHARS:
        where = USER_HEADER if header else "user"
        raise InvalidRequest(f"`{where}` is longer than {MAX_USER_CHARS} characters",
                             param=where)
    return value


def _bad(problem: str) -> InvalidRequest:
    return InvalidRequest(f"header `{TAGS_HEADER}` {problem}; write it as "
                          "`key=value,key2=value2`", param=TAGS_HEADER)
