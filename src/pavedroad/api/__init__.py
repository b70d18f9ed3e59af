"""HTTP: the ASGI app, the OpenAI/Anthropic-compatible and admin routes, error bodies."""
