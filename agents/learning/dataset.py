"""In-memory datasets: inputs, targets and a group label per example (used for non-IID sharding)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Dataset:
    """Example ``i`` is ``inputs[i] -> targets[i]``; ``labels[i]`` is its class or its source group."""

    inputs: torch.Tensor
    targets: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, indices: torch.Tensor | np.ndarray) -> Dataset:
        index = torch.as_tensor(indices, dtype=torch.long)
        return Dataset(self.inputs[index], self.targets[index], self.labels[index])


@dataclass(frozen=True)
class Splits:
    """A skill's fixed train / validation / test split."""

    train: Dataset
    validation: Dataset
    test: Dataset


def fixed_split(data: Dataset, validation: float, test: float, seed: int) -> Splits:
    """Split by one fixed permutation (numpy PCG64 from ``seed``): the same split for everyone."""
    order = np.random.default_rng(seed).permutation(len(data))
    n_test = round(len(data) * test)
    n_val = round(len(data) * validation)
    return Splits(
        train=data.subset(np.sort(order[n_test + n_val :])),
        validation=data.subset(np.sort(order[n_test : n_test + n_val])),
        test=data.subset(np.sort(order[:n_test])),
    )
