"""Built-in evaluation scorers; they register through the plugin registry (builtin.py)."""

from pavedroad.evals.scorers.base import build_scorers, scorer_registry

__all__ = ["build_scorers", "scorer_registry"]
