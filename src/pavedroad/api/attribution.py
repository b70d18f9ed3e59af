"""Who a chat request's cost is attributed to: its tags and its end user."""

from __future__ import annotations

from starlette.requests import Request

from pavedroad.core.types import Caller
from pavedroad.metering.tags import TAGS_HEADER, USER_HEADER, end_user, merge_tags


def attribution(request: Request, caller: Caller, *, body_user: object) -> tuple[
        dict[str, str], str | None]:
    """Tags (the key's and app's, merged with `x-pavedroad-tags`) and the end user
    (`x-pavedroad-user`, else `body_user`). A malformed header is a 400 naming it."""
    headers = request.headers
    return merge_tags(caller.tags, headers.get(TAGS_HEADER)), end_user(headers.get(USER_HEADER),
                                                                       body_user)
