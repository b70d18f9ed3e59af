"""Provider adapters behind one Protocol, the HTTP transport they share, and the built-ins."""
