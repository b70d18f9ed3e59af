"""Policy-as-code: per-request decisions from the caller, the app and the request."""
