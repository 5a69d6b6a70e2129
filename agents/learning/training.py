"""Deterministic local training with traced checkpoints.

Given (global weights, shard, seed, hyper-parameters) the result is bit-identical on the same
machine: deterministic kernels, a fixed thread count, the batch of step ``s`` drawn from a private
``torch.Generator`` seeded by ``sha256(seed, s)`` (so a replay starting at any step draws the same
batches), no dropout and no global RNG. Optimizers are written out here, so a checkpoint (weights
plus optimizer state) is all that is needed to resume at its step.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from agents.learning.codec import State, TensorSpec, decode_state, encode_state
from agents.learning.dataset import Dataset
from agents.learning.hashing import sha256
from agents.learning.hyperparams import HyperParams
from agents.learning.skills.registry import Skill, load_model

TRAIN_THREADS = 1
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
MODEL_PREFIX = "model."
OPT_PREFIX = "opt."


@contextmanager
def deterministic_torch(threads: int = TRAIN_THREADS) -> Iterator[None]:
    """Deterministic algorithms and a fixed intra-op thread count, restored afterwards.

    The flag is set where ``torch.use_deterministic_algorithms`` sets it, without the public function's
    other effect, importing ``torch._inductor`` to configure compilation, which nothing here uses: that
    import costs each agent process over a second of CPU.
    """
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch._C._set_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch._C._set_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def batch_indices(seed: int, step: int, shard_size: int, batch_size: int) -> torch.Tensor:
    """Indices (with replacement) of the batch used at ``step``; depends only on (seed, step)."""
    step_seed = int.from_bytes(sha256(f"aoai-batch:{seed}:{step}".encode())[:8], "big") >> 1
    generator = torch.Generator().manual_seed(step_seed)
    return torch.randint(shard_size, (batch_size,), generator=generator)


def checkpoint_steps(hp: HyperParams) -> list[int]:
    """Steps at which checkpoints are taken: 0, K, 2K, ... and the last step."""
    return sorted({*range(0, hp.local_steps, hp.checkpoint_every), hp.local_steps})


def optimizer_slots(hp: HyperParams) -> tuple[str, ...]:
    """Names of the optimizer state a checkpoint holds per parameter."""
    if hp.optimizer == "adam":
        return ("m", "v")
    return ("m",) if hp.momentum > 0 else ()


def checkpoint_spec(model_spec: Mapping[str, TensorSpec], hp: HyperParams) -> dict[str, TensorSpec]:
    """Tensors of a checkpoint: ``model.<name>`` and the optimizer's ``opt.<slot>.<name>``."""
    spec = {MODEL_PREFIX + name: s for name, s in model_spec.items()}
    for slot in optimizer_slots(hp):
        spec.update({f"{OPT_PREFIX}{slot}.{name}": s for name, s in model_spec.items()})
    return spec


def initial_checkpoint(global_state: Mapping[str, torch.Tensor], hp: HyperParams) -> State:
    """Checkpoint 0: the global weights and zeroed optimizer state."""
    checkpoint = {MODEL_PREFIX + name: t.clone() for name, t in global_state.items()}
    for slot in optimizer_slots(hp):
        checkpoint.update(
            {f"{OPT_PREFIX}{slot}.{name}": torch.zeros_like(t) for name, t in global_state.items()}
        )
    return checkpoint


def model_part(checkpoint: Mapping[str, torch.Tensor]) -> State:
    """The model weights held in a checkpoint."""
    return {
        name.removeprefix(MODEL_PREFIX): t for name, t in checkpoint.items() if name.startswith(MODEL_PREFIX)
    }


def decode_checkpoint(data: bytes, skill: Skill, config: Mapping[str, Any], hp: HyperParams) -> State:
    """Strictly decode checkpoint bytes published by a trainer."""
    return decode_state(data, checkpoint_spec(skill.spec(config), hp))


@torch.no_grad()
def apply_step(
    params: Mapping[str, torch.Tensor],
    grads: Sequence[torch.Tensor],
    opt: State,
    hp: HyperParams,
    step: int | Sequence[int],
) -> None:
    """One optimizer step, in place. With ``step`` a sequence, every tensor stacks that many independent
    runs along its first dimension, run ``i`` at step ``step[i]`` (a batched replay)."""
    for (name, p), g in zip(params.items(), grads, strict=True):
        if hp.optimizer == "adam":
            m, v = opt[f"{OPT_PREFIX}m.{name}"], opt[f"{OPT_PREFIX}v.{name}"]
            b1, b2 = ADAM_BETAS
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            m_hat = m / _bias_correction(b1, step, p)
            v_hat = v / _bias_correction(b2, step, p)
            p.sub_(hp.lr * m_hat / (v_hat.sqrt() + ADAM_EPS))
        elif hp.momentum > 0:
            m = opt[f"{OPT_PREFIX}m.{name}"]
            m.mul_(hp.momentum).add_(g)
            p.sub_(hp.lr * m)
        else:
            p.sub_(hp.lr * g)


def _bias_correction(beta: float, step: int | Sequence[int], like: torch.Tensor) -> float | torch.Tensor:
    """Adam's ``1 - beta^(step + 1)``: a float, or one per stacked run shaped to broadcast over ``like``."""
    if isinstance(step, int):
        return 1 - beta ** (step + 1)
    values = torch.tensor([1 - beta ** (s + 1) for s in step], dtype=like.dtype)
    return values.view(-1, *(1,) * (like.dim() - 1))


def run_steps(
    skill: Skill,
    config: Mapping[str, Any],
    checkpoint: Mapping[str, torch.Tensor],
    anchor: Mapping[str, torch.Tensor],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
    start: int,
    stop: int,
) -> State:
    """Resume from ``checkpoint`` (taken at step ``start``) and return the checkpoint at step ``stop``.

    ``anchor`` holds the global weights, the centre of the FedProx term when ``hp.mu`` > 0.
    """
    (end,) = run_segments(skill, config, checkpoint, anchor, shard, seed, hp, [start, stop])
    return end


def run_segments(
    skill: Skill,
    config: Mapping[str, Any],
    checkpoint: Mapping[str, torch.Tensor],
    anchor: Mapping[str, torch.Tensor],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
    steps: Sequence[int],
) -> Iterator[State]:
    """Resume from ``checkpoint`` (taken at ``steps[0]``) and yield the checkpoint at each later step of
    ``steps``: one model for the whole run, the same bits as :func:`run_steps` segment by segment."""
    with deterministic_torch():
        model = load_model(skill, config, model_part(checkpoint))
        params = dict(model.named_parameters())
        opt = {name: t.clone() for name, t in checkpoint.items() if name.startswith(OPT_PREFIX)}
        for start, stop in itertools.pairwise(steps):
            for step in range(start, stop):
                idx = batch_indices(seed, step, len(shard), hp.batch_size)
                loss = skill.loss(model, shard.inputs[idx], shard.targets[idx])
                if hp.mu > 0:
                    loss = loss + hp.mu / 2 * sum(((p - anchor[n]) ** 2).sum() for n, p in params.items())
                grads = torch.autograd.grad(loss, list(params.values()))
                apply_step(params, list(grads), opt, hp, step)
            yield {
                **{MODEL_PREFIX + n: t.detach().clone() for n, t in model.state_dict().items()},
                **{name: t.clone() for name, t in opt.items()},
            }


@dataclass(frozen=True)
class LocalTraining:
    """A trainer's result: final weights, the published update (final - global) and the traced checkpoints."""

    state: State
    update: State
    checkpoints: tuple[bytes, ...]
    steps: tuple[int, ...]


def train_locally(
    skill: Skill,
    config: Mapping[str, Any],
    global_state: Mapping[str, torch.Tensor],
    shard: Dataset,
    seed: int,
    hp: HyperParams,
) -> LocalTraining:
    """Run ``hp.local_steps`` steps from the global weights, checkpointing at :func:`checkpoint_steps`."""
    steps = checkpoint_steps(hp)
    checkpoints = [initial_checkpoint(global_state, hp)]
    checkpoints += run_segments(skill, config, checkpoints[0], global_state, shard, seed, hp, steps)
    blobs = [encode_state(c) for c in checkpoints]
    final = model_part(checkpoints[-1])
    update = {name: final[name] - global_state[name] for name in final}
    return LocalTraining(state=final, update=update, checkpoints=tuple(blobs), steps=tuple(steps))
