"""The arithmetic behind alerts: rolling windows, burn rates, spend anomalies."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from pavedroad.config.telemetry import BurnWindowConfig, CostAnomalyConfig, SLOConfig
from pavedroad.telemetry.windows import RollingSeries, burn_rate, spend_anomaly


def test_window_sums_only_buckets_inside_it() -> None:
    series = RollingSeries(width=2, bucket_seconds=1, horizon_seconds=10, now=0)
    for t in range(10):
        series.add(t + 0.5, (1.0, float(t)))
    assert series.window(9.9, 3) == [3.0, 7 + 8 + 9]
    assert series.window(9.9, 10) == [10.0, 45.0]
    # Skipping the newest 3 s leaves the 3 s before them.
    assert series.window(9.9, 3, skip_seconds=3) == [3.0, 4 + 5 + 6]


def test_old_buckets_fall_out_of_the_horizon() -> None:
    series = RollingSeries(width=1, bucket_seconds=1, horizon_seconds=5, now=0)
    series.add(0.5, (100.0,))
    series.add(20.5, (1.0,))
    assert series.window(20.9, 100) == [1.0]
    assert len(series._buckets) == 1


def test_a_clock_step_back_lands_in_the_newest_bucket() -> None:
    series = RollingSeries(width=1, bucket_seconds=1, horizon_seconds=5, now=0)
    series.add(3.5, (1.0,))
    series.add(2.5, (1.0,))
    assert series.window(3.9, 1) == [2.0]


def test_series_rejects_a_bucket_wider_than_its_horizon() -> None:
    with pytest.raises(ValueError, match="bucket_seconds"):
        RollingSeries(width=1, bucket_seconds=10, horizon_seconds=5, now=0)


def test_burn_rate_is_the_bad_share_over_the_budget() -> None:
    assert burn_rate(0, 0, 0.999) == 0.0
    assert burn_rate(1, 1000, 0.999) == pytest.approx(1.0)
    assert burn_rate(144, 10_000, 0.999) == pytest.approx(14.4)
    assert burn_rate(10, 10, 0.99) == pytest.approx(100.0)


def test_spend_anomaly_needs_money_and_a_high_ratio() -> None:
    # Ten dollars a minute against a baseline of one dollar a minute: 10x.
    assert spend_anomaly(10, 60, 60, 3600, factor=5, min_usd=1) == pytest.approx(10)
    assert spend_anomaly(3, 60, 60, 3600, factor=5, min_usd=1) is None  # only 3x
    assert spend_anomaly(0.5, 60, 0, 3600, factor=5, min_usd=1) is None  # too little to matter
    assert spend_anomaly(2, 60, 0, 3600, factor=5, min_usd=1) == math.inf  # nothing before


def test_settings_refuse_windows_in_the_wrong_order() -> None:
    with pytest.raises(ValidationError, match="short_seconds"):
        BurnWindowConfig(long_seconds=60, short_seconds=300, factor=2)
    with pytest.raises(ValidationError, match="baseline_seconds"):
        CostAnomalyConfig(window_seconds=600, baseline_seconds=60)
    with pytest.raises(ValidationError, match="availability"):
        SLOConfig(app="*")
