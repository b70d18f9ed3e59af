"""Guardrails: detectors that scan text, and the stages that apply the policy's actions."""
