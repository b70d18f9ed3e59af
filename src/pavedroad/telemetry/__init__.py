"""Prometheus metrics (and, later, traces and SLOs)."""
