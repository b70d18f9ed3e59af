"""Rate plans from a caller's limits, 429s with headers, and the tokens settlement."""

from __future__ import annotations

import pytest

from pavedroad.core.errors import RateLimited
from pavedroad.core.types import NO_LIMITS, Caller, Limits, Subject, Usage
from pavedroad.limits.counter import LocalCounterStore
from pavedroad.limits.rate import admit, caller_subjects, duration, plan_for


def caller(*, key: Limits = NO_LIMITS, app: Limits = NO_LIMITS, team: Limits = NO_LIMITS,
           tenant: Limits = NO_LIMITS) -> Caller:
    return Caller(key_id="key_1", name="search-key", models=None, key_limits=key,
                  app=Subject("app_1", "copilot", app), team_subject=Subject("team_1", "search", team),
                  tenant=Subject("ten_1", "acme", tenant))


def test_only_subjects_with_limits_take_part() -> None:
    subjects = caller_subjects(caller(key=Limits(rpm=5), tenant=Limits(concurrent=2)))
    assert [(s.scope, s.id) for s in subjects] == [("key", "key_1"), ("tenant", "ten_1")]
    assert plan_for(caller_subjects(caller()), tokens=10) is None


def test_plan_claims_one_counter_per_limit() -> None:
    plan = plan_for(caller_subjects(caller(app=Limits(rpm=10, tpm=1000, concurrent=3))),
                    tokens=120)
    assert plan is not None
    assert [(c.key, c.limit, c.amount, c.window) for c in plan.claims] == [
        ("rl:app:app_1:rpm", 10, 1, 60.0),
        ("rl:app:app_1:tpm", 1000, 120, 60.0),
        ("rl:app:app_1:concurrent", 3, 1, None),
    ]


async def test_headers_show_the_tightest_limit_of_each_kind() -> None:
    store = LocalCounterStore()
    plan = plan_for(caller_subjects(caller(key=Limits(rpm=100, tpm=50_000),
                                           team=Limits(rpm=10, tpm=900_000))), tokens=40)
    assert plan is not None
    headers = await admit(store, plan, holder="r1")
    assert headers["x-ratelimit-limit-requests"] == "10"  # the team's: 9 left, not the key's 99
    assert headers["x-ratelimit-remaining-requests"] == "9"
    assert headers["x-ratelimit-reset-requests"] == "6s"
    assert headers["x-ratelimit-limit-tokens"] == "50000"
    assert headers["x-ratelimit-remaining-tokens"] == "49960"
    assert headers["x-ratelimit-reset-tokens"] == "48ms"


async def test_refusal_names_the_limit_and_carries_retry_after() -> None:
    store = LocalCounterStore()
    plan = plan_for(caller_subjects(caller(team=Limits(rpm=2))), tokens=1)
    assert plan is not None
    await admit(store, plan, holder="a")
    await admit(store, plan, holder="b")
    with pytest.raises(RateLimited) as caught:
        await admit(store, plan, holder="c")
    error = caught.value
    assert "team 'search' allows 2 requests per minute" in error.message
    headers = error.headers()
    assert headers["retry-after"] == "30"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert error.http_status == 429 and error.code == "rate_limited"


def test_settlement_gives_back_slots_and_corrects_tokens() -> None:
    plan = plan_for(caller_subjects(caller(key=Limits(tpm=1000, concurrent=2, rpm=5))),
                    tokens=100)
    assert plan is not None
    used_more = plan.settlement(Usage(prompt_tokens=90, completion_tokens=60), served=True)
    assert sorted((c.key, c.amount) for c in used_more) == [
        ("rl:key:key_1:concurrent", 1), ("rl:key:key_1:tpm", -50)]
    unknown = plan.settlement(None, served=True)  # answered, usage unknown: keep estimate
    assert [c.key for c in unknown] == ["rl:key:key_1:concurrent"]
    never_called = plan.settlement(None, served=False)  # no upstream reached: refund
    assert sorted((c.key, c.amount) for c in never_called) == [
        ("rl:key:key_1:concurrent", 1), ("rl:key:key_1:tpm", 100)]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0ms"), (0.0201, "21ms"), (1, "1s"), (1.5, "1.5s"), (59.9986, "59.999s"), (59.9994, "1m0s"),
    (60, "1m0s"), (360, "6m0s"), (90.25, "1m30.25s"),
])
def test_durations_are_written_like_openai(seconds: float, text: str) -> None:
    assert duration(seconds) == text
