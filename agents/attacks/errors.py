"""Errors of the attack library."""


class AttackError(ValueError):
    """An attack was asked for with unusable parameters."""
