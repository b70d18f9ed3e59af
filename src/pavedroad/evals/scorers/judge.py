"""LLM-as-judge: a model grades the answer against a rubric, through the gateway.

The judge is asked `repeats` times for JSON constrained by a schema (`response_format:
json_schema`), each call under `timeout_s`; the score is the mean of the valid verdicts,
with their spread, so a noisy judge shows up as spread rather than as a confident number.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Mapping
from typing import Any

import aiohttp

from pavedroad.evals.scorers.match import parse_json_answer
from pavedroad.evals.types import Case, Output, Score, ScorerContext

PROMPT = """You grade an answer against a rubric. Reply only with JSON: {{"score": <integer \
from 1 to {scale}>, "reason": "<one sentence>"}}.

Rubric:
{rubric}

Question or input:
{question}

Reference answer (may be empty):
{expected}

Answer to grade:
{answer}"""


def verdict_schema(scale: int) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["score", "reason"],
            "properties": {"score": {"type": "integer", "enum": list(range(1, scale + 1))},
                           "reason": {"type": "string"}}}


def question_of(case: Case) -> str:
    messages = case.input.get("messages")
    if isinstance(messages, list) and messages:
        return str(messages[-1].get("content", "")) if isinstance(messages[-1], dict) else ""
    return json.dumps(dict(case.input), ensure_ascii=False, default=str)


class LlmJudge:
    """Mean of `repeats` rubric grades (1..`scale`) mapped to 0..1; passes at `threshold`."""

    name = "llm_judge"
    cheap = False

    def __init__(self, p: Mapping[str, Any], context: ScorerContext) -> None:
        self.rubric = str(p["rubric"])
        self.model = str(p["model"])
        self.repeats = int(p.get("repeats", 3))
        self.scale = int(p.get("scale", 5))
        self.timeout_s = float(p.get("timeout_s", 30.0))
        self.threshold = float(p.get("threshold", 0.6))
        self.context = context

    def _body(self, case: Case, output: Output) -> bytes:
        prompt = PROMPT.format(scale=self.scale, rubric=self.rubric, question=question_of(case),
                               expected="" if case.expected is None else case.expected,
                               answer=output.text)
        return json.dumps({
            "model": self.model, "temperature": 0, "max_tokens": 200,
            "messages": [{"role": "user", "content": prompt}],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "verdict", "strict": True, "schema": verdict_schema(self.scale)}},
        }).encode()

    async def _grade(self, session: aiohttp.ClientSession, body: bytes) -> int | str:
        """One verdict (1..scale), or why there is none."""
        url = f"{self.context.gateway_url.rstrip('/')}/v1/chat/completions"
        try:
            async with asyncio.timeout(self.timeout_s):
                async with session.post(url, data=body) as response:
                    status, payload = response.status, await response.json(content_type=None)
        except TimeoutError:
            return f"timed out after {self.timeout_s:g} s"
        except (aiohttp.ClientError, ValueError) as exc:
            return f"judge call failed: {exc.__class__.__name__}"
        if status >= 400 or not isinstance(payload, dict):
            error = payload.get("error", {}) if isinstance(payload, dict) else {}
            return f"judge call failed: {status} {error.get('code', '')}".strip()
        try:
            text = payload["choices"][0]["message"]["content"]
            grade = parse_json_answer(text)["score"]
        except (KeyError, IndexError, TypeError, ValueError):
            return "the judge did not answer with the verdict JSON"
        if not isinstance(grade, int) or not 1 <= grade <= self.scale:
            return f"the judge's score {grade!r} is outside 1..{self.scale}"
        return grade

    async def score(self, case: Case, output: Output) -> Score:
        body = self._body(case, output)
        headers = {"authorization": f"Bearer {self.context.api_key}",
                   "content-type": "application/json", "x-pavedroad-tags": "source=eval-judge"}
        async with aiohttp.ClientSession(headers=headers) as session:
            results = await asyncio.gather(*(self._grade(session, body)
                                             for _ in range(self.repeats)))
        grades = [r for r in results if isinstance(r, int)]
        problems = [r for r in results if isinstance(r, str)]
        if not grades:
            return Score(self.name, 0.0, False, reason=problems[0],
                         details={"grades": [], "errors": problems})
        normalised = [(g - 1) / (self.scale - 1) for g in grades]
        mean = statistics.fmean(normalised)
        spread = statistics.pstdev(normalised) if len(normalised) > 1 else 0.0
        ok = mean >= self.threshold
        return Score(self.name, mean, ok,
                     reason="" if ok else f"judge mean {mean:.2f} < {self.threshold:.2f}",
                     details={"grades": grades, "spread": spread, "errors": problems,
                              "repeats": self.repeats})
