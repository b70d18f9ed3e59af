"""Use cases: run a request through the pipeline; manage keys and switches."""
