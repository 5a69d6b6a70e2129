// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice The lineage of every job's model: generation 0 is the job's initial weights (possibly a
/// finalized generation of another job), every later generation the finalized aggregate of one round.
/// Only the protocol writes here (REGISTRAR_ROLE: the job registry for a genesis, the rounds contract for
/// finalized generations), so every record past genesis traces to a finalized round.
contract ModelRegistry is IModelRegistry, AccessControl {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    mapping(uint64 jobId => mapping(uint32 number => Generation)) private _generations;
    mapping(uint64 jobId => uint32) private _counts;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE, which grants REGISTRAR_ROLE to the protocol contracts.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IModelRegistry
    function recordGenesis(
        uint64 jobId,
        bool hasParent,
        uint64 parentJobId,
        uint32 parentNumber,
        string calldata cid,
        bytes32 weightsHash
    ) external onlyRole(REGISTRAR_ROLE) {
        if (_counts[jobId] != 0) revert ModelRegistryGenesisExists(jobId);
        if (hasParent && parentNumber >= _counts[parentJobId]) {
            revert ModelRegistryUnknownGeneration(parentJobId, parentNumber);
        }
        Generation storage record = _generations[jobId][0];
        record.hasParent = hasParent;
        if (hasParent) {
            record.parentJobId = parentJobId;
            record.parentNumber = parentNumber;
        }
        record.recordedAt = uint64(block.timestamp);
        record.weightsHash = weightsHash;
        record.cidHash = keccak256(bytes(cid));
        record.metricsHash = keccak256(abi.encode(new int256[](0)));
        _counts[jobId] = 1;
        emit GenerationRecorded(jobId, 0, 0, parentJobId, parentNumber, cid, weightsHash, new int256[](0));
    }

    /// @inheritdoc IModelRegistry
    function recordGeneration(
        uint64 jobId,
        uint64 roundId,
        string calldata cid,
        bytes32 weightsHash,
        int256[] calldata metrics
    ) external onlyRole(REGISTRAR_ROLE) returns (uint32 number) {
        number = _counts[jobId];
        if (number == 0) revert ModelRegistryNoGenesis(jobId);
        Generation storage record = _generations[jobId][number];
        record.parentJobId = jobId;
        record.parentNumber = number - 1;
        record.hasParent = true;
        record.roundId = roundId;
        record.recordedAt = uint64(block.timestamp);
        record.weightsHash = weightsHash;
        record.cidHash = keccak256(bytes(cid));
        record.metricsHash = keccak256(abi.encode(metrics));
        _counts[jobId] = number + 1;
        emit GenerationRecorded(jobId, number, roundId, jobId, number - 1, cid, weightsHash, metrics);
    }

    /// @inheritdoc IModelRegistry
    function generation(uint64 jobId, uint32 number) external view returns (Generation memory) {
        if (number >= _counts[jobId]) revert ModelRegistryUnknownGeneration(jobId, number);
        return _generations[jobId][number];
    }

    /// @inheritdoc IModelRegistry
    function generationCount(uint64 jobId) external view returns (uint32) {
        return _counts[jobId];
    }

    /// @inheritdoc IModelRegistry
    function weightsHashOf(uint64 jobId, uint32 number) external view returns (bytes32) {
        if (number >= _counts[jobId]) revert ModelRegistryUnknownGeneration(jobId, number);
        return _generations[jobId][number].weightsHash;
    }
}
