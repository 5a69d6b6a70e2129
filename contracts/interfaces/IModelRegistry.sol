// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The lineage of every model: one record per generation, from a job's initial weights on
/// @notice Errors, events and calls of {ModelRegistry}. CIDs and metric values are emitted, not stored: a
/// record keeps the keccak256 of the CID's UTF-8 bytes and of the ABI-encoded metrics, so anyone can check
/// the values read from the events.
interface IModelRegistry {
    /// @notice One generation of one job.
    /// @param parentJobId Job of the parent generation (the same job, or the lineage's source for gen 0).
    /// @param parentNumber Number of the parent generation (0 for a genesis without parent).
    /// @param hasParent Whether a parent exists (a genesis without lineage has none).
    /// @param roundId Round whose updates produced it (0 for a genesis).
    /// @param recordedAt Block time of the record.
    /// @param weightsHash Hash of the weights.
    /// @param cidHash keccak256 of the weights' CID.
    /// @param metricsHash keccak256(abi.encode(int256[] metrics)), the evaluation metrics scaled by 1e6.
    struct Generation {
        uint64 parentJobId;
        uint32 parentNumber;
        bool hasParent;
        uint64 roundId;
        uint64 recordedAt;
        bytes32 weightsHash;
        bytes32 cidHash;
        bytes32 metricsHash;
    }

    /// @dev Job `jobId` has no generation `number`.
    error ModelRegistryUnknownGeneration(uint64 jobId, uint32 number);
    /// @dev Job `jobId` already has a genesis.
    error ModelRegistryGenesisExists(uint64 jobId);
    /// @dev Job `jobId` has no genesis yet.
    error ModelRegistryNoGenesis(uint64 jobId);

    /// @notice Generation `number` of job `jobId` was recorded, descending from generation `parentNumber`
    /// of job `parentJobId`; its weights are at `cid` and hash to `weightsHash`.
    event GenerationRecorded(
        uint64 indexed jobId,
        uint32 indexed number,
        uint64 indexed roundId,
        uint64 parentJobId,
        uint32 parentNumber,
        string cid,
        bytes32 weightsHash,
        int256[] metrics
    );

    /// @notice Records generation 0 of `jobId`. Only REGISTRAR_ROLE (the job registry).
    function recordGenesis(
        uint64 jobId,
        bool hasParent,
        uint64 parentJobId,
        uint32 parentNumber,
        string calldata cid,
        bytes32 weightsHash
    ) external;

    /// @notice Records the next generation of `jobId`, child of its latest. Only REGISTRAR_ROLE (the rounds).
    /// @return number The new generation's number.
    function recordGeneration(
        uint64 jobId,
        uint64 roundId,
        string calldata cid,
        bytes32 weightsHash,
        int256[] calldata metrics
    ) external returns (uint32 number);

    /// @notice Generation `number` of job `jobId`.
    function generation(uint64 jobId, uint32 number) external view returns (Generation memory);

    /// @notice Number of generations of job `jobId`, genesis included (0 before its genesis).
    function generationCount(uint64 jobId) external view returns (uint32);

    /// @notice The weights hash of generation `number` of job `jobId`.
    function weightsHashOf(uint64 jobId, uint32 number) external view returns (bytes32);
}
