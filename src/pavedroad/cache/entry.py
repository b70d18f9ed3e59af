"""One stored answer as bytes: when it was stored, which deployment served it, the body.

The body is the complete `chat.completion` JSON, kept as bytes so an OpenAI-format hit
answers without serialising again.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("<BdH")  # format version, stored_at (unix seconds), name length
_VERSION = 1


@dataclass(slots=True, frozen=True)
class Entry:
    stored_at: float
    deployment: str  # "" when unknown
    body: bytes

    def encode(self) -> bytes:
        name = self.deployment.encode()
        return _HEADER.pack(_VERSION, self.stored_at, len(name)) + name + self.body

    @classmethod
    def decode(cls, data: bytes) -> Entry | None:
        """None for bytes this version cannot read (e.g. written by a newer gateway)."""
        if len(data) < _HEADER.size:
            return None
        version, stored_at, size = _HEADER.unpack_from(data)
        start = _HEADER.size + size
        if version != _VERSION or len(data) < start:
            return None
        return cls(stored_at, data[_HEADER.size:start].decode(), data[start:])
