"""Turning a suite's scorer list into scorer instances, checking each against its manifest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema

from pavedroad.core.errors import EvalConfigInvalid
from pavedroad.evals.types import Score, ScorerContext
from pavedroad.evals.types import Scorer as ScorerProtocol
from pavedroad.plugins.registry import PluginRegistry, load_registry


def scorer_registry() -> PluginRegistry:
    """The built-in scorers plus every installed plugin's."""
    return load_registry()


def params(properties: Mapping[str, Any], *, required: Sequence[str] = ()) -> dict[str, Any]:
    """A manifest's parameter schema: an object with these properties and nothing else."""
    return {"type": "object", "properties": dict(properties), "required": list(required),
            "additionalProperties": False}


def expected_texts(expected: Any) -> list[str]:
    """A case's expected output as the list of acceptable strings."""
    if expected is None:
        return []
    if isinstance(expected, list):
        return [str(item) for item in expected]
    return [str(expected)]


def no_expected(name: str) -> Score:
    return Score(name, 0.0, False, reason="the case has no expected output")


def _spec(entry: Any, where: str) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
        return entry["name"], {k: v for k, v in entry.items() if k != "name"}
    raise EvalConfigInvalid(f"{where}: a scorer is a name or a mapping with `name` and its "
                            "parameters", param="scorers")


def build_scorers(entries: Sequence[Any], *, context: ScorerContext,
                  registry: PluginRegistry | None = None,
                  where: str = "suite") -> list[ScorerProtocol]:
    """Scorers from `[name, {name: ..., param: value}, ...]`, parameters checked against
    each manifest's schema before anything runs."""
    registry = registry or scorer_registry()
    built: list[ScorerProtocol] = []
    names: set[str] = set()
    for index, entry in enumerate(entries):
        name, given = _spec(entry, f"{where} scorers[{index}]")
        try:
            manifest = registry.scorer(name)
        except LookupError as exc:
            raise EvalConfigInvalid(f"{where}: {exc}", param="scorers") from None
        errors = sorted(jsonschema.Draft202012Validator(dict(manifest.parameters))
                        .iter_errors(given), key=lambda e: list(e.path))
        if errors:
            at = ".".join(str(p) for p in errors[0].path) or "parameters"
            raise EvalConfigInvalid(f"{where}: scorer {name!r}: {at}: {errors[0].message}",
                                    param="scorers")
        if name in names:
            raise EvalConfigInvalid(f"{where}: scorer {name!r} is listed twice",
                                    param="scorers")
        names.add(name)
        built.append(manifest.factory(given, context))
    if not built:
        raise EvalConfigInvalid(f"{where}: list at least one scorer", param="scorers")
    return built
