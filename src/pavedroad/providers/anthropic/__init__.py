"""Anthropic's Messages API."""

from pavedroad.providers.anthropic.provider import AnthropicProvider, anthropic

__all__ = ["AnthropicProvider", "anthropic"]
