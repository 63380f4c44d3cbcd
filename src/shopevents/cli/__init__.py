"""The command line, a module per group of commands (`main` is its root)."""

from shopevents.cli.main import main

__all__ = ["main"]
