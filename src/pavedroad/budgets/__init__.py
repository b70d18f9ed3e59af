"""Budgets in USD per key, app, team, tenant and end user, per UTC period, with soft (alert)
and hard (block) thresholds, enforced by reserving a request's worst case before the call."""
