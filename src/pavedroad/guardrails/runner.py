"""Runs the guardrails a policy decision names over one text and applies their actions.

Detectors only report findings; this module turns them into what the policy asked for:
`block` raises `GuardrailBlocked` (guardrail and category named, the text never), `redact`
returns spans to rewrite, `flag` (and every other action) is recorded as an
`AppliedFinding` for the audit trail and the findings metric.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pavedroad.core.errors import GuardrailBlocked
from pavedroad.guardrails.base import (
    Direction,
    Finding,
    Guardrail,
    Manifest,
    ScanContext,
    Source,
)
from pavedroad.guardrails.redact import Pseudonymizer, mask
from pavedroad.guardrails.redact import redact as redact_text
from pavedroad.plugins.registry import PluginRegistry
from pavedroad.policy.decision import AppliedFinding, GuardrailRule

log = logging.getLogger("pavedroad.guardrails")

# (guardrail, category, action) -> None: counts findings for the metrics endpoint.
FindingCounter = Callable[[str, str, str], None]


@dataclass(frozen=True, slots=True)
class RedactSpan:
    start: int
    end: int
    category: str
    mode: str


@dataclass(slots=True)
class ScanResult:
    applied: list[AppliedFinding]
    spans: list[RedactSpan]


class GuardrailRunner:
    """Builds each (guardrail, parameters) pair once, and scans texts with it."""

    def __init__(self, registry: PluginRegistry, *, count: FindingCounter | None = None,
                 ) -> None:
        self._registry = registry
        self._count = count
        self._instances: dict[tuple[str, str], Guardrail | None] = {}

    def detector(self, rule: GuardrailRule) -> Guardrail | None:
        key = (rule.name, json.dumps(dict(rule.params), sort_keys=True, default=str))
        if key not in self._instances:
            try:
                factory = self._registry.guardrail_factory(rule.name)
            except LookupError:
                # `pavedroad policy check` reports this; at run time a missing detector
                # must not take the gateway down.
                log.warning("policy names guardrail %r, which is not installed", rule.name)
                self._instances[key] = None
            else:
                self._instances[key] = factory(dict(rule.params))
        return self._instances[key]

    def slow(self, rules: Sequence[GuardrailRule]) -> bool:
        """Whether any of these rules runs a guardrail too slow for the event loop (a NER
        model, the deep injection pass): its callers then scan in a worker thread."""
        return any(d is not None and d.manifest.latency_class == "slow"
                   for d in map(self.detector, rules))

    def scan(self, text: str, rules: Sequence[GuardrailRule], *, direction: Direction,
             source: Source, into: list[AppliedFinding] | None = None) -> ScanResult:
        """Every rule over `text`. Raises GuardrailBlocked on the first blocking finding;
        findings go to `into` as they are found, so a blocked request keeps them too."""
        result = ScanResult([] if into is None else into, [])
        if not text:
            return result
        for rule in rules:
            detector = self.detector(rule)
            if detector is None or not _applies(detector.manifest, direction, source):
                continue
            findings = detector.scan(text, ScanContext(direction, source, rule.params))
            for finding in findings:
                applied = AppliedFinding(finding.guardrail or rule.name, finding.category,
                                         finding.score, rule.action, direction, source)
                result.applied.append(applied)
                if self._count is not None and into is not None:  # recorded findings only
                    self._count(applied.guardrail, applied.category, rule.action)
                if rule.action == "block":
                    raise GuardrailBlocked(
                        f"guardrail {applied.guardrail!r} blocked the "
                        f"{'request' if direction == 'input' else 'answer'} "
                        f"(category {finding.category}, {source} text)",
                        guardrail=applied.guardrail, category=finding.category,
                        direction=direction)
                if (rule.action == "redact" and finding.start is not None
                        and finding.end is not None and finding.end > finding.start):
                    result.spans.append(RedactSpan(finding.start, finding.end,
                                                   finding.category, rule.mode))
        return result


def redact(text: str, spans: Sequence[RedactSpan], pseudonymizer: Pseudonymizer | None = None,
           ) -> str:
    """`text` with each span replaced per its rule's mode (guardrails/redact.py does the
    replacing); overlapping spans keep the first and longest. Rules with different modes
    may redact one text, so modes are applied span by span in one pass."""
    if not spans:
        return text
    modes = {span.mode for span in spans}
    findings = [Finding("", s.category, 1.0, s.start, s.end) for s in spans]
    if len(modes) == 1:
        mode = next(iter(modes))
        if mode == "pseudonymise" and pseudonymizer is not None:
            return redact_text(text, findings, "pseudonymise", pseudonymizer=pseudonymizer)
        return redact_text(text, findings, "mask" if mode == "mask" else "placeholder")
    local = Pseudonymizer()  # typed placeholders, numbered within this text
    out: list[str] = []
    cursor = 0
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if span.start < cursor:
            continue
        out.append(text[cursor:span.start])
        value = text[span.start:span.end]
        if span.mode == "mask":
            out.append(mask(value, [Finding("", span.category, 1.0, 0, len(value))]))
        elif span.mode == "pseudonymise" and pseudonymizer is not None:
            out.append(pseudonymizer.placeholder(span.category, value))
        else:
            out.append(local.placeholder(span.category, value))
        cursor = span.end
    out.append(text[cursor:])
    return "".join(out)


def message_texts(message: dict[str, Any]) -> list[tuple[str | int, str]]:
    """(where, text) pairs of a chat message: `content` as a string, or its text parts."""
    content = message.get("content")
    if isinstance(content, str):
        return [("content", content)]
    if isinstance(content, list):
        return [(i, part["text"]) for i, part in enumerate(content)
                if isinstance(part, dict) and isinstance(part.get("text"), str)]
    return []


def _applies(manifest: Manifest, direction: Direction, source: Source) -> bool:
    """Whether a guardrail looks at text of this direction and source."""
    return direction in manifest.directions and (manifest.sources is None
                                                 or source in manifest.sources)
