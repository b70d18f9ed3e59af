"""Builds the policy, safe-mode and guardrail stages from settings, once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from pavedroad.config.loader import ConfigError, ConfigProblem
from pavedroad.config.models import Settings
from pavedroad.config.policy import SafeModeTarget
from pavedroad.guardrails.runner import FindingCounter, GuardrailRunner
from pavedroad.plugins.registry import PluginRegistry
from pavedroad.policy.engine import PolicyEngine
from pavedroad.policy.model import PolicyError
from pavedroad.routing.router import Router
from pavedroad.service.guardrail_input import InputGuardrails
from pavedroad.service.guardrail_output import OutputGuardrails
from pavedroad.service.org import OrgDirectory
from pavedroad.service.output_schema import OutputSchema
from pavedroad.service.pipeline import Stage
from pavedroad.service.policy import PolicyStage
from pavedroad.service.safemode import SafeMode


@dataclass(slots=True)
class PolicyStages:
    engine: PolicyEngine
    policy: PolicyStage
    # Before the cache: the decision, safe mode, input guardrails.
    front: list[Stage] = field(default_factory=list)
    # Around the upstream call, inside limits and budgets: output guardrails, schema repair.
    back: list[Stage] = field(default_factory=list)


def load_policy(settings: Settings) -> PolicyEngine:
    try:
        return PolicyEngine.load(settings.policy.path)
    except PolicyError as exc:
        raise ConfigError([ConfigProblem("policy.path", p) for p in exc.problems]) from None


def build_policy_stages(settings: Settings, registry: PluginRegistry, router: Router,
                        directory: OrgDirectory, *, count: FindingCounter | None = None,
                        ) -> PolicyStages:
    engine = load_policy(settings)
    problems = [
        ConfigProblem(f"safe_mode.{where}.deployment",
                      f"no deployment {target.deployment!r} is configured")
        for where, target in _safe_targets(settings)
        if target.deployment is not None and target.deployment not in router.deployments]
    if problems:
        raise ConfigError(problems)
    policy = PolicyStage(engine, router, app_of=directory.apps.get, path_of=directory.path)
    safe = SafeMode(settings.safe_mode, router.switches, providers_of=policy.providers_of,
                    path_of=directory.path)
    runner = GuardrailRunner(registry, count=count)
    return PolicyStages(
        engine, policy,
        front=[policy, safe, InputGuardrails(runner)],
        back=[OutputGuardrails(runner, window=settings.policy.stream_window), OutputSchema()])


def _safe_targets(settings: Settings) -> list[tuple[str, SafeModeTarget]]:
    config = settings.safe_mode
    return [("default", config.default),
            *((f"apps.{k}", v) for k, v in config.apps.items()),
            *((f"models.{k}", v) for k, v in config.models.items()),
            *((f"providers.{k}", v) for k, v in config.providers.items())]
