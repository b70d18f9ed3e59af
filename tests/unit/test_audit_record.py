"""Audit records built from an exchange: content per logging level, the policy decision and
its explanation, findings without text; and the chain's canonical hashing."""

from __future__ import annotations

from pavedroad.audit.chain import GENESIS, canonical, record_hash
from pavedroad.audit.record import AuditPolicy, admin_record, policy_of, request_record
from pavedroad.core.types import Caller, ChatRequest
from pavedroad.policy.decision import AppliedFinding, Decision
from pavedroad.service.pipeline import Exchange

SECRET = "call me at ann@example.com"


def exchange(*, answer: list[str] | None = None) -> Exchange:
    caller = Caller(key_id="key_1", name="k", models=None)
    request = ChatRequest("m", {"messages": [{"role": "user", "content": SECRET}]}, "req_1",
                          caller)
    ex = Exchange(request, "chat")
    ex.answer = answer
    return ex


def redact(text: str) -> str:
    return text.replace("ann@example.com", "<EMAIL_1>")


def test_metadata_keeps_no_content() -> None:
    record = request_record(exchange(answer=["hi"]), AuditPolicy())
    assert record["level"] == "metadata" and record["content"] is None
    assert SECRET not in str(record)
    assert record["id"] == "req_1" and record["kind"] == "request"


def test_full_keeps_prompt_and_answer() -> None:
    record = request_record(exchange(answer=["hel", "lo"]), AuditPolicy(level="full"))
    assert record["content"] == {"messages": [{"role": "user", "content": SECRET}],
                                 "answer": "hello"}


def test_redacted_uses_the_redactor_or_keeps_nothing() -> None:
    policy = AuditPolicy(level="redacted")
    record = request_record(exchange(answer=[SECRET]), policy, redactor=redact)
    assert record["level"] == "redacted"
    assert "ann@example.com" not in str(record) and "<EMAIL_1>" in str(record)
    bare = request_record(exchange(answer=[SECRET]), policy)
    assert bare["level"] == "metadata" and bare["content"] is None


def test_the_policy_decides_level_retention_and_is_explained() -> None:
    ex = exchange(answer=["ok"])
    ex.policy = Decision(logging="metadata", retention_days=7,
                         explanation=("default", "restricted-data-metadata-only"))
    ex.findings = [AppliedFinding("pii", "EMAIL", 0.99, "redact", "input")]
    policy = policy_of(ex, AuditPolicy(level="full", retention_days=365))
    record = request_record(ex, policy)
    assert record["level"] == "metadata" and record["content"] is None
    assert record["retain_until"] == ex.started_at + 7 * 86400
    assert record["policy"]["explanation"] == "default; restricted-data-metadata-only"
    assert record["policy"]["decision"]["logging"] == "metadata"
    assert record["findings"] == [{"guardrail": "pii", "category": "EMAIL", "score": 0.99,
                                   "action": "redact", "direction": "input", "source": "user"}]


def test_admin_records_hold_who_what_before_and_after() -> None:
    record = admin_record(actor="key:master", action="key.revoke", target="key_1",
                          before={"revoked_at": None}, after={"revoked_at": 1.0},
                          tenant_id="ten_1", retention_days=None, now=5.0)
    assert record["id"].startswith("aud_") and record["retain_until"] is None
    assert (record["actor"], record["action"], record["target"]) == ("key:master",
                                                                     "key.revoke", "key_1")


def test_hashes_cover_the_sequence_number_and_are_canonical() -> None:
    header = {"seq": 1, "prev_hash": GENESIS, "id": "a", "kind": "admin", "at": 1.5,
              "tenant_id": None, "app_id": None, "retain_until": None,
              "content_sha256": "0" * 64}
    assert canonical({"b": 1, "a": 2}) == b'{"a":2,"b":1}'
    assert record_hash(header) == record_hash(dict(reversed(list(header.items()))))
    assert record_hash(header) != record_hash({**header, "seq": 2})
