"""The audit trail: one hash-chained record per request and per admin action (ADR 0012)."""
