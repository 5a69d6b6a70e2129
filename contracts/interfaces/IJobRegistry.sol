// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Jobs ("skills"): what to train, from which weights, on which data, for how much, at which pace
/// @notice Errors, events and calls of {JobRegistry}.
interface IJobRegistry {
    /// @notice Everything a job fixes. Amounts in wei (ETH for stakes, bonds and penalties; AOAI for
    /// rewards), durations in seconds.
    /// @param architectureId Identifier of the model architecture (e.g. keccak256 of its name).
    /// @param configHash Hash of the model config (sha256 of its canonical JSON).
    /// @param initialWeightsCID IPFS CID of generation 0's weights (kept in storage: read once per job).
    /// @param initialWeightsHash Hash of generation 0's weights.
    /// @param datasetManifestCID IPFS CID of the dataset manifest that lists the shards.
    /// @param hyperparamsHash Hash of the training hyper-parameters (local steps, batch size, learning rate).
    /// @param shardCount Number of data shards in the manifest; a trainer's shard is drawn in [0, shardCount).
    /// @param aggregationRule Identifier of the aggregation rule (FedAvg, FedAdam, trimmed mean, ...).
    /// @param parentJobId Job whose finalized generation this job starts from (0: none).
    /// @param parentGeneration That generation's number (ignored without a parent job).
    /// @param rewardPerUpdate AOAI minted to the trainer of each accepted update.
    /// @param verifierRewardPerUpdate AOAI per accepted update, shared by the verifiers that attested it.
    /// @param aggregatorReward AOAI minted to the aggregator of each finalized generation.
    /// @param trainerStake Minimum active trainer stake to claim a slot; also what a lost challenge slashes.
    /// @param verifierStake Minimum active verifier stake to attest, challenge or sit on a panel; also what a
    /// challenger who loses is slashed.
    /// @param aggregatorStake Minimum active aggregator stake to propose; also what a bad proposal is slashed.
    /// @param challengeBond ETH a challenger deposits with each challenge; lost with the challenge.
    /// @param panelPenalty Slashed from a panel member that does not reveal a vote.
    /// @param missedRevealPenalty Slashed from a trainer that commits and does not reveal.
    /// @param minSlots Fewest task slots a round offers.
    /// @param maxSlots Most task slots a round offers (at most 255: accepted updates form a bitmap).
    /// @param attestationQuorum Attestations per update that close the challenge window early.
    /// @param panelSize Verifiers drawn to judge a dispute (odd).
    /// @param claimTtl Time a two-step claim has to commit before its slot reopens.
    /// @param commitPhase Longest commit phase.
    /// @param revealPhase Longest reveal phase.
    /// @param challengePhase Longest challenge window on revealed updates.
    /// @param proposalPhase Longest challenge window on an aggregation proposal.
    /// @param voteCommitPhase Longest time a panel has to commit its votes.
    /// @param voteRevealPhase Longest time a panel has to reveal its votes.
    struct JobSpec {
        bytes32 architectureId;
        bytes32 configHash;
        string initialWeightsCID;
        bytes32 initialWeightsHash;
        string datasetManifestCID;
        bytes32 hyperparamsHash;
        uint32 shardCount;
        uint8 aggregationRule;
        uint64 parentJobId;
        uint32 parentGeneration;
        uint96 rewardPerUpdate;
        uint96 verifierRewardPerUpdate;
        uint96 aggregatorReward;
        uint96 trainerStake;
        uint96 verifierStake;
        uint96 aggregatorStake;
        uint96 challengeBond;
        uint96 panelPenalty;
        uint96 missedRevealPenalty;
        uint16 minSlots;
        uint16 maxSlots;
        uint8 attestationQuorum;
        uint8 panelSize;
        uint32 claimTtl;
        uint32 commitPhase;
        uint32 revealPhase;
        uint32 challengePhase;
        uint32 proposalPhase;
        uint32 voteCommitPhase;
        uint32 voteRevealPhase;
    }

    /// @dev No job has id `jobId`.
    error JobRegistryUnknownJob(uint64 jobId);
    /// @dev The spec is not usable; `reason` names the field at fault.
    error JobRegistryInvalidSpec(string reason);
    /// @dev The parent generation does not exist.
    error JobRegistryUnknownParent(uint64 parentJobId, uint32 parentGeneration);
    /// @dev The initial weights are not the parent generation's weights.
    error JobRegistryParentHashMismatch(bytes32 expected, bytes32 actual);
    /// @dev The longest time from a slashable act to its last possible slash, `exposure` seconds, exceeds
    /// the unbonding delay: a stake could leave before its offence is judged.
    error JobRegistryExposureExceedsUnbonding(uint256 exposure, uint64 unbondingDelay);

    /// @notice Job `jobId` was created by `creator`; `spec` holds every parameter, CIDs included.
    event JobCreated(uint64 indexed jobId, address indexed creator, JobSpec spec);

    /// @notice Creates a job. Only JOB_ADMIN_ROLE. If `spec.parentJobId` is set, the parent generation must
    /// be finalized and its weights hash must equal `spec.initialWeightsHash` (lineage across jobs).
    /// @return jobId The new job's id (ids start at 1).
    function createJob(JobSpec calldata spec) external returns (uint64 jobId);

    /// @notice The spec of job `jobId`.
    function job(uint64 jobId) external view returns (JobSpec memory);

    /// @notice Number of jobs created (the last job id).
    function jobCount() external view returns (uint64);

    /// @notice Longest time, in seconds, between a slashable act in a round of `spec` and the end of the
    /// last dispute that can judge it.
    function exposureOf(JobSpec calldata spec) external pure returns (uint256);
}
