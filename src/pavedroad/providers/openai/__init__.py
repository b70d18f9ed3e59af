"""OpenAI, Azure OpenAI and any OpenAI-compatible server (vLLM, Ollama, LM Studio, TGI)."""

from pavedroad.providers.openai.provider import (
    OpenAIProvider,
    azure_openai,
    openai,
    openai_compatible,
)

__all__ = ["OpenAIProvider", "azure_openai", "openai", "openai_compatible"]
