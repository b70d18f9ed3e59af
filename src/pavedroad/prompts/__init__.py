"""Prompt registry: immutable versions, movable labels, rendering by reference."""
