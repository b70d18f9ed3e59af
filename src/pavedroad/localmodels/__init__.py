"""Local models that ship inside packages and run offline on CPU."""
