"""A job's `IJobRegistry.JobSpec`: its fields in ABI order with the defaults of a small job whose phases fit
the default unbonding delay, and the tuple the contract takes. Used by `aoai job create`,
`ape run create_job`, the protocol tests and the gas benchmark."""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes

ETHER = 10**18
ZERO32 = "0x" + "00" * 32

DEFAULTS: dict[str, Any] = {
    "architectureId": ZERO32,
    "configHash": ZERO32,
    "initialWeightsCID": "",
    "initialWeightsHash": ZERO32,
    "datasetManifestCID": "",
    "hyperparamsHash": ZERO32,
    "shardCount": 16,
    "aggregationRule": 0,
    "parentJobId": 0,
    "parentGeneration": 0,
    "rewardPerUpdate": 100 * ETHER,
    "verifierRewardPerUpdate": 10 * ETHER,
    "aggregatorReward": 50 * ETHER,
    "trainerStake": ETHER,
    "verifierStake": ETHER,
    "aggregatorStake": 2 * ETHER,
    "challengeBond": ETHER // 10,
    "panelPenalty": ETHER // 20,
    "missedRevealPenalty": ETHER // 5,
    "minSlots": 3,
    "maxSlots": 16,
    "attestationQuorum": 1,
    "panelSize": 3,
    "claimTtl": 600,
    "commitPhase": 3600,
    "revealPhase": 600,
    "challengePhase": 1800,
    "proposalPhase": 1800,
    "voteCommitPhase": 600,
    "voteRevealPhase": 600,
}
FIELDS = tuple(DEFAULTS)
BYTES32_FIELDS = ("architectureId", "configHash", "initialWeightsHash", "hyperparamsHash")


class UnknownSpecField(ValueError):
    """A JobSpec override names no field of the struct."""


def spec_from(overrides: dict[str, Any]) -> tuple[Any, ...]:
    """The JobSpec tuple, in field order, from the defaults and ``overrides`` (bytes32 as bytes or 0x-hex)."""
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise UnknownSpecField(f"unknown JobSpec fields: {sorted(unknown)}")
    spec = {**DEFAULTS, **overrides}
    for name in BYTES32_FIELDS:
        spec[name] = HexBytes(spec[name])
    return tuple(spec[name] for name in FIELDS)
