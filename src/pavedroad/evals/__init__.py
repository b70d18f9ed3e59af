"""Evaluation: datasets, scorers, runs through the gateway, comparisons, gates, red teams."""
