"""Creating a job: the job manifest and the initial weights go to IPFS, the spec to JobRegistry.

The spec's defaults and encoding are those of :mod:`agents.chain.jobspec` (as for the admin's ape script);
this adds what agents need: ``architectureId`` names the skill, ``configHash`` and ``hyperparamsHash`` bind
the manifest's model config and hyper-parameters, and ``datasetManifestCID`` points to the manifest.
"""

from __future__ import annotations

from typing import Any

from agents.chain.jobspec import spec_from
from agents.learning.codec import encode_state
from agents.learning.hyperparams import HyperParams
from agents.learning.skills.registry import get_skill, initial_state
from agents.node.manifest import JobManifest
from agents.node.protocol import Chain
from agents.node.store import Store
from agents.node.work import architecture_id


def create_job(
    chain: Chain,
    store: Store,
    skill_name: str,
    hyperparams: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    init_seed: int = 0,
    shard_seed: int = 0,
    shard_alpha: float | None = None,
) -> tuple[int, int]:
    """Uploads the manifest and generation 0, creates the job, opens its first round: (job, round) ids."""
    skill = get_skill(skill_name)
    model_config = dict(config or skill.default_config)
    hp = skill.default_hyperparams.with_(**(hyperparams or {}))
    HyperParams.from_dict(hp.to_dict())  # validates
    manifest = JobManifest(
        skill.name, model_config, hp.to_dict(), shard_seed, shard_alpha, skill.reported_metrics
    )
    manifest_cid = store.put(manifest.to_bytes()).cid
    weights = store.put(encode_state(initial_state(skill, model_config, init_seed)))
    fields = {
        "architectureId": "0x" + architecture_id(skill.name).hex(),
        "configHash": "0x" + skill.config_hash(model_config),
        "hyperparamsHash": "0x" + hp.hash,
        "initialWeightsCID": weights.cid,
        "initialWeightsHash": "0x" + weights.keccak256.hex(),
        "datasetManifestCID": manifest_cid,
        **(overrides or {}),
    }
    created = chain.send("JobRegistry", "createJob", spec_from(fields))
    job_id = next(int(e.args["jobId"]) for e in created if e.name == "JobCreated")
    chain.send("TrainingRounds", "startJob", job_id)
    return job_id, int(chain.view("TrainingRounds", "currentRound", job_id))
