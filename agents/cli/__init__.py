"""The `aoai` command line."""

from agents.cli.main import main

__all__ = ["main"]
