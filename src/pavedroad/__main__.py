"""`python -m pavedroad` is the CLI."""

from pavedroad.cli.main import main

main()
