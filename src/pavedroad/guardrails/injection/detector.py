"""The `prompt_injection` guardrail: an offline, CPU-only detector of injections and jailbreaks.

How it decides (see docs/adr/0011-injection-detector.md):

1. Normalise: strip zero-width and bidi characters, NFKC-fold, map Cyrillic/Greek look-alikes,
   undo leetspeak and letter-by-letter spacing, and decode base64, hex and rot13 payloads, so
   one pattern covers its disguised forms.
2. Match a table of weighted pattern families (`patterns.RULES`): instruction overrides and
   their paraphrases in several languages, fake role headers and chat-template tokens,
   persona/developer-mode jailbreaks, system-prompt extraction, markdown-image and URL
   exfiltration, tool-call hijacking, and phrases addressed to the model.
3. Combine the weights of the families that fired with a noisy-OR, 1 - prod(1 - w): one strong
   signal is enough, several weak ones add up, and the result stays in 0..1. The category is
   the one whose own noisy-OR is highest.
4. Score the same views with a small logistic model over hashed word and character n-grams
   (`model.py`, trained offline by evals/injection/train.py) and take the larger of the two
   calibrated scores: the rules explain what they catch, the model catches phrasings no rule
   names. Both put their operating point at 0.5.
5. Optionally (`deep: true`, for high-risk apps) score the text's word windows with a small head
   over bge-small sentence embeddings (`semantic.py`, ADR 0022 and 0024) and take the largest of
   the rules', that score and — when cross-validation chose it (`Head.with_ngram`) — the n-gram
   model's. Without the `onnx` extra the fast pass (4.) runs instead, never an error.

The source decides which weight a family uses: retrieved documents and tool results are data,
so instructions addressed to the model inside them score high on their own (indirect
injection); the same words in a user message are how people ask for things.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pavedroad.guardrails.base import Finding, Manifest, ScanContext
from pavedroad.guardrails.injection import model, normalize, semantic
from pavedroad.guardrails.injection.patterns import CATEGORIES, PROMPT_INJECTION, RULES, Rule

NAME = "prompt_injection"
DEFAULT_THRESHOLD = 0.5  # both halves are calibrated so that 0.5 is their operating point
MODEL_RULE = "linear_model"  # named in findings when the learned model drove the score
SEMANTIC_RULE = "semantic_model"  # named in findings when the deep pass drove the score
INDIRECT_SOURCES = ("retrieved", "tool")
_FLOODING_WEIGHT = 0.3
_ENCODED_BONUS = 0.3  # instructions found only inside an encoded payload were hidden on purpose

MANIFEST = Manifest(
    name=NAME,
    description=(
        "Detects prompt injection and jailbreak attempts in user input and, more strictly, in "
        "retrieved documents and tool results. Offline pattern model; returns a 0..1 score and a "
        "category (PROMPT_INJECTION, JAILBREAK, SYSTEM_PROMPT_LEAK, DATA_EXFILTRATION)."
    ),
    directions=("input",),
    sources=("user", "retrieved", "tool"),  # not `system`: the app's own instructions
    latency_class="fast",
    parameters={
        "type": "object",
        "properties": {
            "threshold": {
                "type": "number", "minimum": 0, "maximum": 1, "default": DEFAULT_THRESHOLD,
                "description": "Report a finding when the score reaches this value.",
            },
            "learned": {
                "type": "boolean", "default": True,
                "description": "Also score with the learned n-gram model (about 0.2-0.4 ms per 2 KB); "
                               "false runs the pattern rules only.",
            },
            "deep": {
                "type": "boolean", "default": False,
                "description": "Add a sentence-embedding pass (bge-small; ~60-100 ms per 2 KB on one "
                               "core); needs the onnx extra and runs the fast pass without it.",
            },
            "indirect_sources": {
                "type": "array", "items": {"enum": ["user", "system", "retrieved", "tool", "model"]},
                "default": list(INDIRECT_SOURCES),
                "description": "Sources scanned with the stricter indirect-injection weights.",
            },
        },
        "additionalProperties": False,
    },
)


@dataclass(frozen=True, slots=True)
class Assessment:
    """The detector's full answer, before any threshold: for evaluation and explanations."""

    score: float
    category: str
    rules: tuple[str, ...]
    rule_score: float = 0.0
    model_score: float = 0.0
    semantic_score: float = 0.0  # 0 when the deep pass did not run


def assess(text: str, *, indirect: bool = False, learned: bool = True, deep: bool = False) -> Assessment:
    """Score `text` in 0..1 and name the most likely category; `learned=False` is rules only,
    `deep=True` adds the sentence-embedding pass when the onnx extra is installed (and runs the
    fast pass otherwise)."""
    plain, decoded = normalize.views(text)
    fired: dict[str, Rule] = {}
    for view in plain:
        _match(view, fired)
    hidden: dict[str, Rule] = {}
    for view in decoded:
        _match(view, hidden)
    only_hidden = {name: rule for name, rule in hidden.items() if name not in fired}
    fired.update(only_hidden)

    misses = dict.fromkeys(CATEGORIES, 1.0)
    for rule in fired.values():
        misses[rule.category] *= 1.0 - (rule.indirect if indirect else rule.direct)
    if only_hidden:
        misses[PROMPT_INJECTION] *= 1.0 - _ENCODED_BONUS
    names = sorted(fired)
    if normalize.has_flooding(text):
        misses[PROMPT_INJECTION] *= 1.0 - _FLOODING_WEIGHT
        names.append("token_flooding")

    total_miss = 1.0
    for miss in misses.values():
        total_miss *= miss
    category = min(misses, key=lambda cat: misses[cat])
    rule_score = round(1.0 - total_miss, 4)
    scorer = semantic.shipped() if deep else None
    # Cross-validation decides whether deep mode keeps the n-gram model (ADR 0024): its false
    # positives on risky-looking prompts spend FPR budget the deep pass may spend better.
    with_ngram = learned and (scorer is None or scorer.head.with_ngram)
    shipped = model.shipped() if with_ngram else None
    model_score = semantic_score = 0.0
    if shipped is not None:
        model_score = round(shipped.score_encoded(model.encode_views(plain, decoded), indirect=indirect), 4)
        if model_score > rule_score:
            names.append(MODEL_RULE)
    if scorer is not None:
        semantic_score = round(scorer.score(text, indirect=indirect, extra_views=decoded), 4)
        if semantic_score > rule_score:
            names.append(SEMANTIC_RULE)
    return Assessment(score=max(rule_score, model_score, semantic_score), category=category,
                      rules=tuple(names), rule_score=rule_score, model_score=model_score,
                      semantic_score=semantic_score)


def _match(view: str, into: dict[str, Rule]) -> None:
    for rule in RULES:
        if rule.name not in into and rule.search(view):
            into[rule.name] = rule


class PromptInjectionGuardrail:
    """Reports one finding when the score reaches the app's threshold."""

    manifest = MANIFEST

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        indirect_sources: tuple[str, ...] = INDIRECT_SOURCES,
        learned: bool = True,
        deep: bool = False,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be within 0..1")
        self.threshold = threshold
        self.learned = learned
        self.deep = deep
        self.indirect_sources = frozenset(indirect_sources)
        if deep:  # tens of ms per 2 KB: the input stage runs it off the event loop
            self.manifest = replace(MANIFEST, latency_class="slow")

    def scan(self, text: str, context: ScanContext) -> list[Finding]:
        threshold = float(context.params.get("threshold", self.threshold))
        result = assess(text, indirect=context.source in self.indirect_sources, learned=self.learned,
                        deep=self.deep)
        if result.score < threshold or not result.rules:
            return []
        # The detail names the pattern families, never the offending text.
        detail = f"source={context.source}; rules={','.join(result.rules)}"
        return [Finding(guardrail=NAME, category=result.category, score=result.score, detail=detail)]


def build(params: Mapping[str, Any]) -> PromptInjectionGuardrail:
    """The registry factory: parameters come from the app's policy or config."""
    unknown = set(params) - {"threshold", "indirect_sources", "learned", "deep"}
    if unknown:
        raise ValueError(f"unknown prompt_injection parameters: {', '.join(sorted(unknown))}")
    threshold = float(params.get("threshold", DEFAULT_THRESHOLD))
    sources = tuple(params.get("indirect_sources", INDIRECT_SOURCES))
    learned = params.get("learned", True)
    deep = params.get("deep", False)
    for name, value in (("learned", learned), ("deep", deep)):
        if not isinstance(value, bool):
            raise ValueError(f"prompt_injection parameter '{name}' must be true or false")
    return PromptInjectionGuardrail(threshold=threshold, indirect_sources=sources, learned=learned,
                                    deep=deep)
