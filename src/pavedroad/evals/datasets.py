"""Golden datasets: cases read from JSONL, CSV or YAML, versioned by a hash of their content.

The version is the content hash, not a counter: the same cases pushed twice are the same
version, and a run records exactly which cases it was scored against.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pavedroad.core.errors import DatasetInvalid
from pavedroad.evals.types import Case

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".yaml": "yaml",
           ".yml": "yaml"}
_KNOWN = {"id", "input", "messages", "variables", "expected", "contexts", "tags", "metadata"}


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    version: str  # the first 16 hex digits of the sha256 of the canonical cases
    cases: tuple[Case, ...]

    def case(self, case_id: str) -> Case:
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(case_id)


def case_to_dict(case: Case) -> dict[str, Any]:
    return {"id": case.id, "input": dict(case.input), "expected": case.expected,
            "contexts": list(case.contexts), "tags": list(case.tags),
            "metadata": dict(case.metadata)}


def content_version(cases: Iterable[Case]) -> str:
    canonical = json.dumps([case_to_dict(c) for c in cases], sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def dataset_of(name: str, cases: Iterable[Case]) -> Dataset:
    """A dataset from cases, checking ids are unique."""
    frozen = tuple(cases)
    seen: set[str] = set()
    for case in frozen:
        if case.id in seen:
            raise DatasetInvalid(f"dataset {name!r}: case id {case.id!r} appears twice",
                                 param="id")
        seen.add(case.id)
    if not frozen:
        raise DatasetInvalid(f"dataset {name!r} has no cases")
    return Dataset(name, content_version(frozen), frozen)


def _string_list(value: Any, where: str, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DatasetInvalid(f"{where}: `{field}` must be a string or a list of strings",
                         param=field)


def case_from_row(row: Mapping[str, Any], where: str, index: int) -> Case:
    """One case from a parsed row: `input` (a mapping), or `messages`, or `variables`."""
    if not isinstance(row, Mapping):
        raise DatasetInvalid(f"{where}: a case must be a mapping with `input` and `expected`")
    unknown = sorted(str(k) for k in set(row) - _KNOWN)  # YAML keys may be numbers
    if unknown:
        raise DatasetInvalid(f"{where}: unknown field(s) {', '.join(unknown)} (known: "
                             f"{', '.join(sorted(_KNOWN))})", param=unknown[0])
    given = [k for k in ("input", "messages", "variables") if row.get(k) is not None]
    if len(given) != 1:
        raise DatasetInvalid(f"{where}: give exactly one of `input`, `messages` or `variables`",
                             param="input")
    if given[0] == "messages":
        messages = row["messages"]
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, Mapping) and "role" in m for m in messages):
            raise DatasetInvalid(f"{where}: `messages` must be a non-empty list of "
                                 "{role, content} mappings", param="messages")
        data: Mapping[str, Any] = {"messages": messages}
    else:
        data = row[given[0]]
        if not isinstance(data, Mapping):
            raise DatasetInvalid(f"{where}: `{given[0]}` must be a mapping of variables",
                                 param=given[0])
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise DatasetInvalid(f"{where}: `metadata` must be a mapping", param="metadata")
    case_id = row.get("id")
    return Case(id=str(case_id) if case_id not in (None, "") else f"case-{index:04d}",
                input=dict(data), expected=row.get("expected"),
                contexts=tuple(_string_list(row.get("contexts"), where, "contexts")),
                tags=tuple(_string_list(row.get("tags"), where, "tags")),
                metadata=dict(metadata))


def _jsonl(text: str, source: str) -> list[Case]:
    cases: list[Case] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DatasetInvalid(f"{source} line {number}: not JSON ({exc})") from None
        cases.append(case_from_row(row, f"{source} line {number}", len(cases) + 1))
    return cases


def _csv_cell(value: str, column: str, where: str) -> Any:
    """JSON-looking cells (lists, objects) are decoded; everything else stays text."""
    stripped = value.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except ValueError:
            raise DatasetInvalid(f"{where}: column {column!r} looks like JSON but does not "
                                 "parse", param=column) from None
    return value


def _csv(text: str, source: str) -> list[Case]:
    """Columns: `id`, `expected`, `contexts`/`tags` (JSON lists or `|`-separated),
    `messages` (JSON), `metadata` (JSON), and `input.<name>` for each variable."""
    cases: list[Case] = []
    for number, raw in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        where = f"{source} row {number}"
        row: dict[str, Any] = {}
        variables: dict[str, Any] = {}
        for column, value in raw.items():
            if column is None or value is None or value == "":
                continue
            if column.startswith("input."):
                variables[column[len("input."):]] = value
            elif column in ("contexts", "tags") and not value.strip().startswith("["):
                row[column] = [part.strip() for part in value.split("|") if part.strip()]
            else:
                row[column] = _csv_cell(value, column, where)
        if variables:
            row["input"] = variables
        cases.append(case_from_row(row, where, len(cases) + 1))
    return cases


def _yaml(text: str, source: str) -> tuple[str | None, list[Case]]:
    """A list of cases, or a mapping with `name` and `cases`."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DatasetInvalid(f"{source}: not valid YAML ({exc})") from None
    name = None
    if isinstance(data, Mapping):
        name = data.get("name")
        data = data.get("cases")
    if not isinstance(data, list):
        raise DatasetInvalid(f"{source}: a YAML dataset is a list of cases, or a mapping "
                             "with `cases`")
    return (str(name) if name else None,
            [case_from_row(row, f"{source} case {i}", i) for i, row in enumerate(data, start=1)])


def load_dataset(path: Path, *, name: str | None = None) -> Dataset:
    """Read a dataset file; the name defaults to the YAML `name` or the file's stem."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DatasetInvalid(f"{path}: unknown dataset format {path.suffix!r} (use "
                             f"{', '.join(sorted(FORMATS))})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetInvalid(f"{path}: cannot read it ({exc})") from None
    declared = None
    if kind == "jsonl":
        cases = _jsonl(text, path.name)
    elif kind == "csv":
        cases = _csv(text, path.name)
    else:
        declared, cases = _yaml(text, path.name)
    return dataset_of(name or declared or path.stem, cases)
