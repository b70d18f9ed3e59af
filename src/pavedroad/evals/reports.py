"""Run reports: Markdown (for pull requests), self-contained HTML (no external assets, so it
can be attached to a CI job), and JUnit XML (so CI systems show failed cases as tests)."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from pavedroad.evals.compare import Comparison
from pavedroad.evals.summary import RunSummary
from pavedroad.store.evals import ResultRow, RunRow

FORMATS = ("markdown", "html", "junit")
_CELL = 120
# Characters XML 1.0 cannot carry even escaped: a model's ANSI colour codes or a NUL would
# make the whole JUnit file unparseable for the CI system reading it.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _short(text: str, size: int = _CELL) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


def _md(text: str) -> str:
    return _short(text).replace("|", "\\|")


def _target(run: RunRow) -> str:
    prompt = run.target.get("prompt")
    if prompt:
        which = f"v{prompt['version']}" if "version" in prompt else prompt.get("label", "")
        return f"prompt {prompt['id']} {which}".strip()
    return f"model {run.target.get('model', '?')}"


def _values(result: ResultRow) -> str:
    return ", ".join(f"{s['name']}={float(s['value']):.2f}" for s in result.scores)


def _failed_reasons(result: ResultRow) -> str:
    return "; ".join(f"{s['name']}: {s.get('reason') or 'failed'}" for s in result.scores
                     if not s["passed"])


def to_markdown(run: RunRow, results: Sequence[ResultRow], summary: RunSummary,
                comparison: Comparison | None = None) -> str:
    lines = [f"# Eval run {run.id}", "",
             f"Suite **{run.suite}**, dataset {run.dataset}@{run.dataset_version}, "
             f"{_target(run)}: {summary.cases}/{run.case_count} cases, status {run.status}.",
             "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.4g} |" for name, value in summary.metrics.items()]
    if summary.block_rates:
        lines += ["", "| red-team category | block rate |", "|---|---|"]
        lines += [f"| {c} | {r:.1%} |" for c, r in summary.block_rates.items()]
    if comparison is not None:
        lines += ["", f"## Against {comparison.base_run}", "",
                  f"{comparison.metric}: {comparison.base_mean:.4g} → "
                  f"{comparison.candidate_mean:.4g} (Δ {comparison.mean_delta:+.4g}, "
                  f"{comparison.confidence:.0%} CI [{comparison.ci_low:+.4g}, "
                  f"{comparison.ci_high:+.4g}], Wilcoxon p = {comparison.wilcoxon_p:.3g}); "
                  f"{len(comparison.regressed)} regressed, {len(comparison.improved)} improved."]
        lines += [f"- `{d.case_id}`: {d.base:.3g} → {d.candidate:.3g}"
                  for d in comparison.regressed]
    failed = [r for r in results if not r.passed]
    lines += ["", f"## Failed cases ({len(failed)})", ""]
    if failed:
        lines += ["| case | answer | why |", "|---|---|---|"]
        lines += [f"| {_md(r.case_id)} | {_md(str(r.output.get('text', '')))} | "
                  f"{_md(_failed_reasons(r))} |" for r in failed]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}tr.fail td{background:#fdecea}tr.pass td{background:#eef8ee}
code{font-size:90%}"""


def to_html(run: RunRow, results: Sequence[ResultRow], summary: RunSummary,
            comparison: Comparison | None = None) -> str:
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{v:.4g}</td></tr>"
                   for k, v in summary.metrics.items())
    rates = "".join(f"<tr><td>{esc(c)}</td><td>{r:.1%}</td></tr>"
                    for c, r in summary.block_rates.items())
    cases = "".join(
        f"<tr class=\"{'pass' if r.passed else 'fail'}\"><td><code>{esc(r.case_id)}</code></td>"
        f"<td>{'pass' if r.passed else 'FAIL'}</td><td>{esc(_short(str(r.output.get('text', '')), 300))}"
        f"</td><td>{esc(_values(r))}</td>"
        f"<td>{esc(_failed_reasons(r))}</td></tr>" for r in results)
    compared = ""
    if comparison is not None:
        regressed = "".join(f"<li><code>{esc(d.case_id)}</code> {d.base:.3g} → {d.candidate:.3g}"
                            "</li>" for d in comparison.regressed)
        compared = (f"<h2>Against {esc(comparison.base_run)}</h2><p>{esc(comparison.metric)}: "
                    f"Δ {comparison.mean_delta:+.4g}, CI [{comparison.ci_low:+.4g}, "
                    f"{comparison.ci_high:+.4g}], Wilcoxon p = {comparison.wilcoxon_p:.3g}</p>"
                    f"<ul>{regressed}</ul>")
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Eval run {esc(run.id)}"
            f"</title><style>{_STYLE}</style></head><body><h1>Eval run {esc(run.id)}</h1>"
            f"<p>Suite <b>{esc(run.suite)}</b>, dataset {esc(run.dataset)}@"
            f"{esc(run.dataset_version)}, {esc(_target(run))}, status {esc(run.status)}.</p>"
            f"<table><tr><th>metric</th><th>value</th></tr>{rows}</table>"
            + (f"<table><tr><th>red-team category</th><th>block rate</th></tr>{rates}</table>"
               if rates else "")
            + compared
            + "<h2>Cases</h2><table><tr><th>case</th><th>result</th><th>answer</th>"
            f"<th>scores</th><th>why</th></tr>{cases}</table></body></html>\n")


def to_junit(run: RunRow, results: Sequence[ResultRow]) -> str:
    """One testsuite per run, one testcase per case; a failed case is a <failure>."""
    failures = sum(not r.passed for r in results)
    suite = ET.Element("testsuite", name=f"{run.suite} ({run.id})", tests=str(len(results)),
                       failures=str(failures), errors="0")
    for result in results:
        seconds = float(result.output.get("latency_ms", 0.0)) / 1000
        case = ET.SubElement(suite, "testcase", classname=run.suite,
                             name=_xml_text(result.case_id), time=f"{seconds:.3f}")
        if not result.passed:
            failure = ET.SubElement(case, "failure",
                                    message=_xml_text(_short(_failed_reasons(result), 500)))
            failure.text = _xml_text(str(result.output.get("text", "")))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render(fmt: str, run: RunRow, results: Sequence[ResultRow], summary: RunSummary,
           comparison: Comparison | None = None) -> str:
    if fmt == "html":
        return to_html(run, results, summary, comparison)
    if fmt == "junit":
        return to_junit(run, results)
    return to_markdown(run, results, summary, comparison)
