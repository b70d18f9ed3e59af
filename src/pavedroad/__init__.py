"""pavedroad: a self-hosted AI platform — one governed, observable road to LLMs."""

__version__ = "0.1.0"
