"""Dashboard login sessions, kept server-side so logout and expiry end them everywhere.

The cookie carries a random 256-bit token; the store keeps only its SHA-256, so a copy of
the database does not hold usable sessions. Each session has its own CSRF token, which
every state-changing form must echo (ADR 0019).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pavedroad.store.schema import ui_sessions

COOKIE = "pavedroad_session"


@dataclass(slots=True, frozen=True)
class Session:
    actor: str
    csrf: str
    expires_at: float

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, token or "")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, engine: AsyncEngine, *, ttl_seconds: float) -> None:
        self._engine = engine
        self._ttl = ttl_seconds

    async def create(self, actor: str, *, now: float | None = None) -> tuple[str, Session]:
        """A new session for `actor`; returns the cookie token and the session."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        session = Session(actor=actor, csrf=secrets.token_urlsafe(32),
                          expires_at=now + self._ttl)
        async with self._engine.begin() as conn:
            # Sweep expired rows at login: sessions are few, logins rare.
            await conn.execute(ui_sessions.delete().where(ui_sessions.c.expires_at <= now))
            await conn.execute(ui_sessions.insert().values(
                id_hash=_digest(token), actor=actor, csrf=session.csrf, created_at=now,
                expires_at=session.expires_at))
        return token, session

    async def get(self, token: str | None, *, now: float | None = None) -> Session | None:
        if not token or len(token) > 200:
            return None
        now = time.time() if now is None else now
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(ui_sessions).where(
                ui_sessions.c.id_hash == _digest(token)))).mappings().first()
        if row is None or row["expires_at"] <= now:
            return None
        return Session(actor=row["actor"], csrf=row["csrf"], expires_at=row["expires_at"])

    async def delete(self, token: str | None) -> None:
        if not token:
            return
        async with self._engine.begin() as conn:
            await conn.execute(ui_sessions.delete().where(
                ui_sessions.c.id_hash == _digest(token)))
