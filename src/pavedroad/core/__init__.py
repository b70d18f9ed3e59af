"""Domain types and the one error hierarchy. No I/O; imports nothing else of ours."""
