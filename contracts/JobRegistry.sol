// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IJobRegistry} from "./interfaces/IJobRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IStakeManager} from "./interfaces/IStakeManager.sol";

/// @title JobRegistry
/// @notice Jobs ("skills") side by side: each names its model, initial weights, data, aggregation rule,
/// rewards, stakes, round sizes and phase lengths. Creating a job records its generation 0 in the model
/// registry; a job may start from a finalized generation of another job. Jobs are immutable once created.
/// @dev A job is only accepted if every slashable act of one of its rounds can be judged within the stake
/// manager's unbonding delay, so no stake can leave before its offence is settled.
contract JobRegistry is IJobRegistry, AccessControl {
    bytes32 public constant JOB_ADMIN_ROLE = keccak256("JOB_ADMIN_ROLE");

    uint16 private constant _MAX_SLOTS = 255;
    uint8 private constant _MAX_PANEL = 15;

    IModelRegistry private immutable _models;
    IStakeManager private immutable _stakes;

    uint64 private _jobCount;
    mapping(uint64 jobId => JobSpec) private _jobs;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants JOB_ADMIN_ROLE).
    /// @param models_ The model registry, where each job's generation 0 is recorded.
    /// @param stakes_ The stake manager, whose unbonding delay bounds a job's phase lengths.
    constructor(address admin, IModelRegistry models_, IStakeManager stakes_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _models = models_;
        _stakes = stakes_;
    }

    /// @inheritdoc IJobRegistry
    function createJob(JobSpec calldata spec) external onlyRole(JOB_ADMIN_ROLE) returns (uint64 jobId) {
        _validate(spec);
        bool hasParent = spec.parentJobId != 0;
        if (hasParent) {
            if (spec.parentGeneration >= _models.generationCount(spec.parentJobId)) {
                revert JobRegistryUnknownParent(spec.parentJobId, spec.parentGeneration);
            }
            bytes32 parentHash = _models.weightsHashOf(spec.parentJobId, spec.parentGeneration);
            if (parentHash != spec.initialWeightsHash) {
                revert JobRegistryParentHashMismatch(parentHash, spec.initialWeightsHash);
            }
        }
        jobId = ++_jobCount;
        _jobs[jobId] = spec;
        emit JobCreated(jobId, msg.sender, spec);
        _models.recordGenesis(
            jobId,
            hasParent,
            spec.parentJobId,
            hasParent ? spec.parentGeneration : 0,
            spec.initialWeightsCID,
            spec.initialWeightsHash
        );
    }

    /// @inheritdoc IJobRegistry
    function job(uint64 jobId) external view returns (JobSpec memory) {
        if (jobId == 0 || jobId > _jobCount) revert JobRegistryUnknownJob(jobId);
        return _jobs[jobId];
    }

    /// @inheritdoc IJobRegistry
    function jobCount() external view returns (uint64) {
        return _jobCount;
    }

    /// @inheritdoc IJobRegistry
    function exposureOf(JobSpec calldata spec) public pure returns (uint256) {
        uint256 dispute = uint256(spec.voteCommitPhase) + spec.voteRevealPhase;
        uint256 trainer = uint256(spec.commitPhase) + spec.revealPhase + spec.challengePhase + dispute;
        uint256 aggregator = uint256(spec.proposalPhase) + dispute;
        return trainer > aggregator ? trainer : aggregator;
    }

    function _validate(JobSpec calldata spec) private view {
        if (spec.shardCount == 0) revert JobRegistryInvalidSpec("shardCount");
        if (spec.minSlots == 0 || spec.minSlots > spec.maxSlots) revert JobRegistryInvalidSpec("minSlots");
        if (spec.maxSlots > _MAX_SLOTS) revert JobRegistryInvalidSpec("maxSlots");
        if (spec.attestationQuorum == 0) revert JobRegistryInvalidSpec("attestationQuorum");
        if (spec.panelSize == 0 || spec.panelSize % 2 == 0 || spec.panelSize > _MAX_PANEL) {
            revert JobRegistryInvalidSpec("panelSize");
        }
        if (spec.trainerStake == 0) revert JobRegistryInvalidSpec("trainerStake");
        if (spec.verifierStake == 0) revert JobRegistryInvalidSpec("verifierStake");
        if (spec.aggregatorStake == 0) revert JobRegistryInvalidSpec("aggregatorStake");
        if (spec.challengeBond == 0) revert JobRegistryInvalidSpec("challengeBond");
        if (spec.panelPenalty > spec.verifierStake) revert JobRegistryInvalidSpec("panelPenalty");
        if (spec.missedRevealPenalty > spec.trainerStake) revert JobRegistryInvalidSpec("missedRevealPenalty");
        if (spec.claimTtl == 0 || spec.claimTtl > spec.commitPhase) revert JobRegistryInvalidSpec("claimTtl");
        if (spec.revealPhase == 0) revert JobRegistryInvalidSpec("revealPhase");
        if (spec.challengePhase == 0) revert JobRegistryInvalidSpec("challengePhase");
        if (spec.proposalPhase == 0) revert JobRegistryInvalidSpec("proposalPhase");
        if (spec.voteCommitPhase == 0 || spec.voteRevealPhase == 0) revert JobRegistryInvalidSpec("votePhase");
        uint256 exposure = exposureOf(spec);
        uint64 delay = _stakes.unbondingDelay();
        if (exposure > delay) revert JobRegistryExposureExceedsUnbonding(exposure, delay);
    }
}
