"""The routing tree as validated data: single, fallback, weighted, least-latency, conditional.

A node is a deployment name (shorthand) or a one-key mapping naming its kind. The tree is
checked once at load; the router only walks it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeploymentNode(_Strict):
    deployment: str = Field(min_length=1)


class FallbackNode(_Strict):
    """Try each child in order until one succeeds."""

    fallback: list[RouteNode] = Field(min_length=1)


class WeightedTarget(_Strict):
    target: RouteNode
    weight: float = Field(default=1.0, gt=0)


class WeightedNode(_Strict):
    """Pick a child at random by weight; the others become ordered fallbacks."""

    weighted: list[WeightedTarget] = Field(min_length=1)


class LeastLatencyNode(_Strict):
    """Prefer the child with the lowest recent latency; the others become fallbacks."""

    least_latency: list[RouteNode] = Field(min_length=1)


class Condition(_Strict):
    """Matches request metadata. Every field given must match."""

    header: str | None = None
    equals: str | None = None
    one_of: list[str] | None = None
    team: str | None = None
    key_name: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Condition:
        if self.header is None and self.team is None and self.key_name is None:
            raise ValueError("a condition needs `header`, `team` or `key_name`")
        if self.header is not None and self.equals is None and self.one_of is None:
            raise ValueError("a `header` condition needs `equals` or `one_of`")
        if self.header is None and (self.equals is not None or self.one_of is not None):
            raise ValueError("`equals` and `one_of` apply to a `header` condition")
        return self


class ConditionalRule(_Strict):
    when: Condition
    then: RouteNode


class ConditionalBody(_Strict):
    rules: list[ConditionalRule] = Field(min_length=1)
    default: RouteNode | None = None


class ConditionalNode(_Strict):
    """The first rule whose condition matches decides; else `default`."""

    conditional: ConditionalBody


_KINDS = ("deployment", "fallback", "weighted", "least_latency", "conditional")


def _node_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "name"
    if isinstance(value, BaseModel):
        return next((k for k in _KINDS if k in type(value).model_fields), None)
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in _KINDS else None
    return None


RouteNode = Annotated[
    Annotated[str, Tag("name")]
    | Annotated[DeploymentNode, Tag("deployment")]
    | Annotated[FallbackNode, Tag("fallback")]
    | Annotated[WeightedNode, Tag("weighted")]
    | Annotated[LeastLatencyNode, Tag("least_latency")]
    | Annotated[ConditionalNode, Tag("conditional")],
    Discriminator(
        _node_kind,
        custom_error_type="invalid_route",
        custom_error_message=(
            "a route is a deployment name or a mapping with exactly one of: "
            "deployment, fallback, weighted, least_latency, conditional"
        ),
    ),
]

for _model in (FallbackNode, WeightedTarget, WeightedNode, LeastLatencyNode, ConditionalRule,
               ConditionalBody):
    _model.model_rebuild()

RouteKind = Literal["deployment", "fallback", "weighted", "least_latency", "conditional"]

