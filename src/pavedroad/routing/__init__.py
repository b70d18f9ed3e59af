"""Routing: the tree walk, retries with backoff, circuit breakers and the kill switch."""
