"""Attack behaviours, for measuring the network's defences: crafted updates against aggregation rules,
data poisoning, and work cheats against trace spot checks. Pure functions; the trainer agent wires them
to ``--behaviour``.

    craft(name, honest, n_attackers, **params) -> n_attackers x d malicious rows
    flip_labels(shard) -> the attacker's poisoned shard
    cheat_trace(name, **params) -> a LocalTraining to publish in place of honest work
    audit(...) -> whether the verifiers' spot check catches a published result
"""

from agents.attacks.audit import Audit, audit
from agents.attacks.cheats import CHEATS, cheat_trace, copy, faked_segments, lazy, partial, replay
from agents.attacks.crafted import CRAFTED, alie, alie_z, craft, gaussian_noise, ipm, scaled, sign_flip
from agents.attacks.data import flip_labels
from agents.attacks.errors import AttackError

__all__ = [
    "CHEATS",
    "CRAFTED",
    "AttackError",
    "Audit",
    "alie",
    "alie_z",
    "audit",
    "cheat_trace",
    "copy",
    "craft",
    "faked_segments",
    "flip_labels",
    "gaussian_noise",
    "ipm",
    "lazy",
    "partial",
    "replay",
    "scaled",
    "sign_flip",
]
