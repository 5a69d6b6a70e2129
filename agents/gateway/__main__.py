"""`python -m agents.gateway api ...`: the same command as `aoai serve api`."""

from agents.cli.api import serve

serve()
