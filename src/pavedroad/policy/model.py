"""The policy file format: versioned YAML documents whose rules hold CEL conditions.

See docs/policy.md. Parsing is strict (a typo in a field fails `pavedroad policy check`
instead of silently allowing); merging matched rules into a `Decision` lives in engine.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pavedroad.guardrails.base import Action
from pavedroad.policy.decision import LogLevel

DEFAULT_POLICY = Path(__file__).with_name("default.yaml")


class PolicyError(ValueError):
    """A policy file that cannot be loaded; `problems` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GuardrailSpec(_Strict):
    action: Action
    mode: str = "placeholder"  # redact: mask | placeholder | pseudonymise
    params: dict[str, Any] = Field(default_factory=dict)


class Rule(_Strict):
    id: str = Field(min_length=1)
    description: str = ""
    when: str = "true"  # a CEL expression over caller, app and request
    deny: str | None = None  # a match denies the request with this reason
    models: list[str] | None = None  # upstream model ids (or deployment names) allowed
    tiers: list[str] | None = None  # gateway model names / tiers the caller may name
    regions: list[str] | None = None
    tools: list[str] | None = None
    guardrails: dict[str, dict[str, GuardrailSpec]] = Field(default_factory=dict)
    logging: LogLevel | None = None
    retention_days: int | None = Field(default=None, ge=0)
    safe_mode: bool | None = None


class Defaults(_Strict):
    logging: LogLevel = "full"
    retention_days: int = Field(default=30, ge=0)


class PolicyDocument(_Strict):
    version: str = Field(min_length=1)
    description: str = ""
    defaults: Defaults = Field(default_factory=Defaults)
    rules: list[Rule] = Field(default_factory=list)


def policy_files(path: Path) -> list[Path]:
    """One file, or every *.yaml / *.yml in a directory (sorted: their rules concatenate)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
    return [path]


def load_documents(path: Path) -> list[tuple[Path, PolicyDocument]]:
    problems: list[str] = []
    documents: list[tuple[Path, PolicyDocument]] = []
    files = policy_files(path) if path.exists() else []
    if not files:
        raise PolicyError([f"{path}: no policy file found"])
    for file in files:
        try:
            raw = yaml.safe_load(file.read_text())
            documents.append((file, PolicyDocument.model_validate(raw)))
        except yaml.YAMLError as exc:
            problems.append(f"{file}: not YAML: {exc}")
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                problems.append(f"{file}: {where}: {err['msg']}")
    if problems:
        raise PolicyError(problems)
    return documents
