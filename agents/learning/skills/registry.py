"""The skill registry: name -> model factory, data, loss, evaluation and default (hyper-)parameters.

Models are built on the meta device and then either filled from a given state dict or initialised
from a seed with a private ``torch.Generator``: the global RNG is never used.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from agents.learning.codec import State, TensorSpec, spec_of
from agents.learning.dataset import Dataset, Splits
from agents.learning.errors import LearningError
from agents.learning.hashing import config_hash
from agents.learning.hyperparams import HyperParams
from agents.learning.skills import language, vision


@dataclass(frozen=True)
class Skill:
    """Everything the agents need to train and judge models for one kind of job.

    ``evaluate`` returns metrics that always include ``loss`` (what verifiers compare); ``metric``
    names the headline one shown to people (accuracy, perplexity).
    """

    name: str
    build_model: Callable[[Mapping[str, Any]], nn.Module]
    load_data: Callable[[], Splits]
    loss: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    evaluate: Callable[[nn.Module, Dataset], dict[str, float]]
    default_config: Mapping[str, Any]
    default_hyperparams: HyperParams
    metric: str = "loss"
    batched_loss: Callable[[Mapping[str, torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor] | None = (
        None
    )
    """``loss`` of many models at once (weights stacked on a first axis, one batch each), where the skill
    has a faster form than ``torch.func.vmap`` over its model."""
    _specs: dict[str, dict[str, TensorSpec]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )  # by config hash

    @property
    def reported_metrics(self) -> tuple[str, ...]:
        """The metrics a generation reports on chain, in their on-chain order (a job manifest records it)."""
        return tuple(sorted({"loss", self.metric}))

    def config_hash(self, config: Mapping[str, Any] | None = None) -> str:
        """sha256 of the canonical JSON of ``{"skill": name, "model": config}``."""
        return config_hash({"skill": self.name, "model": dict(config or self.default_config)})

    def spec(self, config: Mapping[str, Any] | None = None) -> dict[str, TensorSpec]:
        """Expected names, shapes and dtypes of the model's state dict."""
        key = self.config_hash(config)
        if key not in self._specs:  # built once per config: every checkpoint decode asks for it
            with torch.device("meta"):
                self._specs[key] = spec_of(self.build_model(config or self.default_config).state_dict())
        return dict(self._specs[key])


SKILLS: dict[str, Skill] = {
    "vision": Skill(
        name="vision",
        build_model=vision.build_model,
        load_data=vision.load_data,
        loss=vision.loss,
        evaluate=vision.evaluate,
        default_config=vision.DEFAULT_CONFIG,
        default_hyperparams=HyperParams(
            local_steps=40, batch_size=32, lr=0.1, momentum=0.9, checkpoint_every=10
        ),
        metric="accuracy",
        batched_loss=vision.batched_loss,
    ),
    "language": Skill(
        name="language",
        build_model=language.build_model,
        load_data=language.load_data,
        loss=language.loss,
        evaluate=language.evaluate,
        default_config=language.DEFAULT_CONFIG,
        default_hyperparams=HyperParams(
            local_steps=40, batch_size=16, lr=3e-3, optimizer="adam", checkpoint_every=10
        ),
        metric="perplexity",
    ),
}


def get_skill(name: str) -> Skill:
    try:
        return SKILLS[name]
    except KeyError:
        raise LearningError(f"unknown skill {name!r}; known: {sorted(SKILLS)}") from None


_TEMPLATES: dict[str, nn.Module] = {}
"""Models built on the meta device, by config hash, copied for each load: building one there costs more
than copying it (vision 0.8 ms against 0.6, language 47 ms against 2)."""


def load_model(skill: Skill, config: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> nn.Module:
    """The skill's model with its weights set to (copies of) ``state``."""
    key = skill.config_hash(config)
    if key not in _TEMPLATES:
        with torch.device("meta"):
            _TEMPLATES[key] = skill.build_model(config)
    model = copy.deepcopy(_TEMPLATES[key])
    model.load_state_dict({name: t.detach().clone() for name, t in state.items()}, strict=True, assign=True)
    return model


@torch.no_grad()
def initial_state(skill: Skill, config: Mapping[str, Any], seed: int) -> State:
    """Seeded initial weights: linear weights N(0, 1/fan_in), embeddings N(0, 0.02), biases 0, norms 1."""
    with torch.device("meta"):
        model = skill.build_model(config)
    model.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, 1.0 / math.sqrt(module.in_features), generator=generator)
            module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, 0.02, generator=generator)
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()
    return {name: t.clone() for name, t in sorted(model.state_dict().items())}
