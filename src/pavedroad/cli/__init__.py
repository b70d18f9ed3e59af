"""The `pavedroad` command line."""
