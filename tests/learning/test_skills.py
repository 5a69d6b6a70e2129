"""Skills learn for real, offline; shards are deterministic partitions; splits are fixed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.learning.aggregation import fedavg
from agents.learning.codec import spec_of
from agents.learning.errors import LearningError, ShardError
from agents.learning.evaluation import evaluate_state
from agents.learning.flat import flatten_state, unflatten_state
from agents.learning.hyperparams import HyperParams
from agents.learning.sharding import shard, shard_indices
from agents.learning.skills import SKILLS, get_skill, initial_state, load_model
from agents.learning.training import train_locally


def test_vision_reaches_90_percent_test_accuracy_centrally() -> None:
    skill = get_skill("vision")
    data = skill.load_data()
    start = initial_state(skill, skill.default_config, seed=0)
    hp = HyperParams(local_steps=300, batch_size=32, lr=0.1, momentum=0.9, checkpoint_every=100)
    trained = train_locally(skill, skill.default_config, start, data.train, seed=0, hp=hp).state
    assert evaluate_state(skill, skill.default_config, trained, data.test)["accuracy"] >= 0.9


def test_fedavg_rounds_over_non_iid_shards_beat_the_initial_model() -> None:
    skill = get_skill("vision")
    data = skill.load_data()
    config = skill.default_config
    spec = skill.spec(config)
    global_state = initial_state(skill, config, seed=0)
    hp = HyperParams(local_steps=20, batch_size=16, lr=0.05, momentum=0.9, checkpoint_every=10)
    shards = [shard(data.train, 5, k, seed=42, alpha=0.3) for k in range(5)]
    before = evaluate_state(skill, config, global_state, data.test)["accuracy"]
    for round_ in range(4):
        runs = [
            train_locally(skill, config, global_state, s, seed=100 * round_ + k, hp=hp)
            for k, s in enumerate(shards)
        ]
        updates = torch.stack([flatten_state(r.update, spec) for r in runs])
        sizes = torch.tensor([len(s) for s in shards], dtype=torch.float32)
        step = unflatten_state(fedavg(updates, sizes), spec)
        global_state = {k: v + step[k] for k, v in global_state.items()}
    after = evaluate_state(skill, config, global_state, data.test)["accuracy"]
    assert before < 0.2 and after > 0.7


def test_language_validation_loss_falls() -> None:
    skill = get_skill("language")
    data = skill.load_data()
    start = initial_state(skill, skill.default_config, seed=0)
    hp = skill.default_hyperparams.with_(local_steps=80, checkpoint_every=40)
    trained = train_locally(skill, skill.default_config, start, data.train, seed=1, hp=hp).state
    before = evaluate_state(skill, skill.default_config, start, data.validation)
    after = evaluate_state(skill, skill.default_config, trained, data.validation)
    assert after["loss"] < before["loss"] - 1.0 and after["perplexity"] < 25


@pytest.mark.parametrize("alpha", [None, 0.1, 1.0])
def test_shards_are_deterministic_partitions(alpha: float | None) -> None:
    labels = get_skill("vision").load_data().train.labels.numpy()
    parts = shard_indices(labels, 7, seed=3, alpha=alpha)
    again = shard_indices(labels, 7, seed=3, alpha=alpha)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    everything = np.concatenate(parts)
    assert len(everything) == len(labels) == len(np.unique(everything))
    assert min(len(p) for p in parts) >= 1
    other = shard_indices(labels, 7, seed=4, alpha=alpha)
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other, strict=True))


def test_dirichlet_shards_skew_labels_and_iid_shards_do_not() -> None:
    labels = get_skill("vision").load_data().train.labels.numpy()

    def top_class_share(alpha: float | None) -> float:
        parts = shard_indices(labels, 10, seed=0, alpha=alpha)
        return float(np.mean([np.bincount(labels[p], minlength=10).max() / len(p) for p in parts]))

    assert top_class_share(None) < 0.2
    assert top_class_share(0.1) > 0.5
    sizes = [len(p) for p in shard_indices(labels, 10, seed=0)]
    assert max(sizes) - min(sizes) <= 1


def test_shard_errors_and_language_groups() -> None:
    train = get_skill("vision").load_data().train
    with pytest.raises(ShardError):
        shard(train, 3, 3, seed=0)
    with pytest.raises(ShardError):
        shard(train, len(train) + 1, 0, seed=0)
    with pytest.raises(ShardError):
        shard(train, 3, 0, seed=0, alpha=0.0)
    books = get_skill("language").load_data().train.labels
    assert int(books.max()) >= 9  # windows are labelled with the book they start in


def test_registry_splits_and_specs() -> None:
    assert sorted(SKILLS) == ["language", "vision"]
    with pytest.raises(LearningError, match="unknown skill"):
        get_skill("audio")
    for skill in SKILLS.values():
        data = skill.load_data()
        sizes = (len(data.train), len(data.validation), len(data.test))
        assert min(sizes) > 100
        state = initial_state(skill, skill.default_config, seed=0)
        assert spec_of(state) == skill.spec()
        skill.spec().clear()  # a copy of the cached spec: callers cannot spoil it
        assert spec_of(state) == skill.spec()
        assert all(torch.equal(state[k], v) for k, v in initial_state(skill, skill.default_config, 0).items())
    narrow = get_skill("vision").spec({"hidden": [8]})
    assert narrow["0.weight"].shape == (8, 64) and narrow != get_skill("vision").spec()
    vision = get_skill("vision").load_data()
    rows = {tuple(r.tolist()) for r in vision.test.inputs}
    assert not any(tuple(r.tolist()) in rows for r in vision.validation.inputs[:50])


def test_vision_reads_scikit_learns_digits_exactly() -> None:
    from sklearn.datasets import load_digits

    from agents.learning.dataset import Dataset, fixed_split
    from agents.learning.skills import vision

    digits = load_digits()
    inputs = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    expected = fixed_split(Dataset(inputs, labels, labels), validation=0.1, test=0.2, seed=vision.SPLIT_SEED)
    ours = vision.load_data()
    for name in ("train", "validation", "test"):
        a, b = getattr(ours, name), getattr(expected, name)
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets), name


def test_a_batched_loss_is_each_models_own_loss_and_gradient() -> None:
    """Every skill with a batched loss: R differently seeded models on R batches give each one's loss,
    and the gradient of their sum is each one's own gradient (what a batched replay relies on)."""
    batched_skills = [s for s in SKILLS.values() if s.batched_loss is not None]
    assert [s.name for s in batched_skills] == ["vision"]
    for skill in batched_skills:
        assert skill.batched_loss is not None
        data = skill.load_data().train
        states = [initial_state(skill, skill.default_config, seed) for seed in range(3)]
        batches = [torch.arange(seed * 16, seed * 16 + 16) for seed in range(3)]
        stacked = {n: torch.stack([s[n] for s in states]).requires_grad_() for n in states[0]}
        inputs = torch.stack([data.inputs[b] for b in batches])
        targets = torch.stack([data.targets[b] for b in batches])
        batched = skill.batched_loss(stacked, inputs, targets)
        grads = torch.autograd.grad(batched.sum(), list(stacked.values()))
        for r, (state, batch) in enumerate(zip(states, batches, strict=True)):
            model = load_model(skill, skill.default_config, state)
            own = skill.loss(model, data.inputs[batch], data.targets[batch])
            assert torch.allclose(batched[r], own, rtol=1e-5, atol=1e-6)
            own_grads = torch.autograd.grad(own, list(model.parameters()))
            names = [n for n, _ in model.named_parameters()]
            by_name = dict(zip(stacked, grads, strict=True))
            for name, g in zip(names, own_grads, strict=True):
                assert torch.allclose(by_name[name][r], g, rtol=1e-4, atol=1e-6)
