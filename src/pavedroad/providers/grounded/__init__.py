"""`pavedroad/grounded`: answers by quoting a collection's passages, with citations."""

from pavedroad.providers.grounded.provider import GroundedProvider, grounded

__all__ = ["GroundedProvider", "grounded"]
