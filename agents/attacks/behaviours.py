"""What an attacking trainer publishes in the real network (``aoai worker start --behaviour NAME``): the
crafted updates, label flipping and work cheats of this package, turned into a complete training
result (update and traced checkpoints) that the trainer agent uploads, commits and reveals as usual.

* Crafted updates (:data:`~agents.attacks.crafted.CRAFTED`): the attacker trains honestly, then
  replaces the model weights of its last checkpoint with ``global + malicious`` so that the update is
  still "last checkpoint minus the generation". Only the last segment is faked: verifiers catch it when
  they draw that segment (always on a short trace, with probability k/S on a long one); otherwise the
  aggregation rule is the defence. Colluding attacks (ALIE, IPM, and the mean that sign flipping
  reverses) need the honest updates' statistics, but commit-reveal hides this round's updates until
  the attacker has committed; so the attacker estimates them by training honestly on its own shard and
  on :data:`PEER_SHARDS` other shards of the job, with its own task seed.
* ``label_flip``: honest training on its own shard with flipped labels (its trace replays on no shard).
* Cheats: ``partial`` skips a fraction ``faked_fraction`` of the trace's segments; ``replay``
  republishes the attacker's previous result (it trains honestly while it has none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from agents.attacks.cheats import checkpoints_result, partial, replay
from agents.attacks.crafted import CRAFTED, alie_z, craft
from agents.attacks.data import flip_labels
from agents.attacks.errors import AttackError
from agents.learning.codec import State
from agents.learning.dataset import Dataset
from agents.learning.flat import flatten_state, unflatten_state
from agents.learning.hyperparams import HyperParams
from agents.learning.skills.registry import Skill
from agents.learning.training import MODEL_PREFIX, LocalTraining, decode_checkpoint, train_locally

PEER_SHARDS = 2
"""Other shards a colluding attacker trains on to estimate the honest updates' mean and spread."""
LABEL_FLIP, PARTIAL, REPLAY = "label_flip", "partial", "replay"
ATTACKS = (*CRAFTED, LABEL_FLIP, PARTIAL, REPLAY)


def attack_result(
    name: str,
    skill: Skill,
    config: Mapping[str, Any],
    global_state: State,
    shards: list[Dataset],
    seed: int,
    hp: HyperParams,
    *,
    workers: int = 1,
    faked_fraction: float = 0.1,
    previous: LocalTraining | None = None,
) -> LocalTraining:
    """The result attack ``name`` publishes for the task (``shards[0]``, ``seed``) on ``global_state``.

    ``shards``: the attacker's own shard, then the peer shards crafted attacks train on; ``workers``:
    the round's slots (ALIE's ``z`` is set for one attacker among them); ``previous``: the result a
    ``replay`` attacker republishes.
    """
    if name not in ATTACKS:
        raise AttackError(f"unknown attack {name!r}; known: {sorted(ATTACKS)}")
    own = shards[0]
    if name == LABEL_FLIP:
        return train_locally(skill, config, global_state, flip_labels(own), seed, hp)
    if name == PARTIAL:
        return partial(skill, config, global_state, own, seed, hp, q=faked_fraction, choice_seed=seed % 2**31)
    if name == REPLAY:
        return replay(previous) if previous else train_locally(skill, config, global_state, own, seed, hp)
    honest = [train_locally(skill, config, global_state, s, seed, hp) for s in shards[: 1 + PEER_SHARDS]]
    spec = skill.spec(config)
    rows = torch.stack([flatten_state(h.update, spec) for h in honest])
    params: dict[str, dict[str, Any]] = {
        "gaussian_noise": {"seed": seed % 2**31},
        "alie": {"z": alie_z(max(workers, 2), 1)},
    }
    malicious = unflatten_state(craft(name, rows, 1, **params.get(name, {}))[0], spec)
    checkpoints = [decode_checkpoint(blob, skill, config, hp) for blob in honest[0].checkpoints]
    last = dict(checkpoints[-1])
    for tensor_name, change in malicious.items():
        last[MODEL_PREFIX + tensor_name] = global_state[tensor_name] + change
    return checkpoints_result(global_state, [*checkpoints[:-1], last], hp)
