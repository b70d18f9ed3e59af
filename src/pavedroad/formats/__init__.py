"""Wire-format translation between the canonical (OpenAI Chat Completions) format and
other provider APIs. Pure functions and small state machines over plain dicts: no I/O.

Two directions per provider: *upstream* (a canonical request served by that provider's
deployment) and *inbound* (a caller speaking that provider's API to the gateway).
"""

from pavedroad.formats.anthropic_errors import openai_error_to_anthropic
from pavedroad.formats.anthropic_inbound_request import anthropic_to_openai_request
from pavedroad.formats.anthropic_inbound_response import openai_to_anthropic_response
from pavedroad.formats.anthropic_inbound_stream import OpenAIToAnthropicStream
from pavedroad.formats.anthropic_request import openai_to_anthropic_request
from pavedroad.formats.anthropic_response import anthropic_to_openai_response
from pavedroad.formats.anthropic_stream import AnthropicToOpenAIStream

__all__ = [
    "AnthropicToOpenAIStream",
    "OpenAIToAnthropicStream",
    "anthropic_to_openai_request",
    "anthropic_to_openai_response",
    "openai_error_to_anthropic",
    "openai_to_anthropic_request",
    "openai_to_anthropic_response",
]
