// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IAOAIToken} from "./interfaces/IAOAIToken.sol";
import {IJobRegistry} from "./interfaces/IJobRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IStakeManager} from "./interfaces/IStakeManager.sol";
import {ITrainingRounds} from "./interfaces/ITrainingRounds.sol";

/// @title TrainingRounds
/// @notice The round loop of every job: trainers claim slots and commit to updates, reveal them, verifiers
/// attest them (or challenge them through {Disputes}), an aggregator proposes the next generation from the
/// accepted updates, and finality records it in the model registry and mints the rewards. Nothing is minted
/// before finality, and an update that lost a challenge is neither aggregated nor rewarded.
/// @dev Gas shapes the storage: CIDs only travel in calldata and events; a slot's storage is keyed by job
/// and slot index and reused round after round (rounds of a job are sequential), so steady-state writes
/// are non-zero to non-zero; the round keeps bitmaps of revealed, challenged and rejected slots (at most 255
/// slots), and attestation counts packed 32 to a word. Phases close at their deadline or as soon as
/// everyone they wait for has acted.
contract TrainingRounds is ITrainingRounds, AccessControl, ReentrancyGuard {
    bytes32 public constant DISPUTES_ROLE = keccak256("DISPUTES_ROLE");

    uint8 private constant _STATUS_OPEN = 0;
    uint8 private constant _STATUS_FINALIZED = 1;
    uint8 private constant _STATUS_EMPTY = 2;
    uint8 private constant _STATUS_ABANDONED = 3;
    uint256 private constant _DEMAND_ONE = 16;
    uint256 private constant _MAX_METRICS = 16;
    uint256 private constant _PROPOSAL_BIT = 1 << 255;

    /// @dev What a round keeps for good: one word, and the slot bitmaps (revealed updates minus rejected
    /// ones are the accepted updates, which verifier rewards are computed from after finality).
    struct Round {
        uint64 jobId;
        uint32 number;
        uint32 generation;
        uint16 slotCount;
        uint16 committed;
        uint40 openedAt;
        uint8 status;
        uint32 attestationUnits;
        uint256 revealedSlots;
        uint256 rejectedSlots;
        uint256 challengedSlots;
    }

    /// @dev What only the open round of a job needs, kept per job and overwritten by each new round (so its
    /// writes are non-zero to non-zero); `roundNumber` tags whose it is and keeps the word non-zero.
    struct Progress {
        uint32 roundNumber;
        uint16 checked;
        uint16 openDisputes;
        uint40 commitClosedAt;
        uint40 revealClosedAt;
        uint64 seedBlock;
        uint40 resolvedAt;
    }

    struct Slot {
        address trainer;
        uint32 roundNumber;
        uint40 claimDeadline;
        SlotStatus status;
    }

    struct TrainerClaim {
        uint64 roundId;
        uint8 slot;
    }

    struct JobState {
        uint64 currentRound;
        uint32 rounds;
        uint32 demand;
        bool started;
    }

    struct Proposal {
        address aggregator;
        uint40 proposedAt;
        uint8 attestations;
        uint16 nonce;
        bool disputed;
        bool live;
    }

    struct AccountScore {
        uint64 accepted;
        uint64 rejected;
        uint128 earned;
    }

    IAOAIToken private immutable _token;
    IStakeManager private immutable _stakes;
    IJobRegistry private immutable _jobs;
    IModelRegistry private immutable _models;
    uint256 private immutable _cap;

    uint256 private _roundCount;
    mapping(uint256 roundId => Round) private _rounds;
    mapping(uint64 jobId => Progress) private _progress;
    mapping(uint64 jobId => bytes32) private _taskSeeds;
    mapping(uint64 jobId => JobConfig) private _configs;
    mapping(uint64 jobId => JobState) private _jobStates;
    mapping(uint64 jobId => mapping(uint256 slot => Slot)) private _slots;
    mapping(uint64 jobId => mapping(uint256 slot => bytes32)) private _commitments;
    mapping(uint64 jobId => mapping(address trainer => TrainerClaim)) private _claims;
    mapping(uint256 roundId => mapping(uint256 word => uint256)) private _attestationCounts;
    mapping(uint256 roundId => mapping(address verifier => uint256 slots)) private _attested;
    mapping(uint64 jobId => Proposal) private _proposals;
    mapping(uint64 jobId => bytes32) private _proposalDigests;
    mapping(address account => AccountScore) private _scores;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE (grants DISPUTES_ROLE to the disputes contract).
    /// @param token_ The AOAI token; this contract must hold its MINTER_ROLE.
    /// @param stakes_ The stake manager; this contract must hold its SLASHER_ROLE (missed reveals).
    /// @param jobs_ The job registry.
    /// @param models_ The model registry; this contract must hold its REGISTRAR_ROLE.
    constructor(
        address admin,
        IAOAIToken token_,
        IStakeManager stakes_,
        IJobRegistry jobs_,
        IModelRegistry models_
    ) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _token = token_;
        _stakes = stakes_;
        _jobs = jobs_;
        _models = models_;
        _cap = token_.cap();
    }

    // ---------------------------------------------------------------- jobs

    /// @inheritdoc ITrainingRounds
    function startJob(uint64 jobId) external returns (uint256 roundId) {
        JobState storage state = _jobStates[jobId];
        if (state.started) revert TrainingRoundsJobStarted(jobId);
        IJobRegistry.JobSpec memory spec = _jobs.job(jobId);
        _configs[jobId] = JobConfig({
            trainerStake: spec.trainerStake,
            verifierStake: spec.verifierStake,
            claimTtl: spec.claimTtl,
            commitPhase: spec.commitPhase,
            aggregatorStake: spec.aggregatorStake,
            missedRevealPenalty: spec.missedRevealPenalty,
            revealPhase: spec.revealPhase,
            challengePhase: spec.challengePhase,
            rewardPerUpdate: spec.rewardPerUpdate,
            verifierRewardPerUpdate: spec.verifierRewardPerUpdate,
            proposalPhase: spec.proposalPhase,
            shardCount: spec.shardCount,
            aggregatorReward: spec.aggregatorReward,
            minSlots: spec.minSlots,
            maxSlots: spec.maxSlots,
            attestationQuorum: spec.attestationQuorum
        });
        state.started = true;
        state.demand = uint32(spec.minSlots * _DEMAND_ONE);
        roundId = _openRound(jobId, 0, spec.minSlots);
    }

    // ---------------------------------------------------------------- trainers

    /// @inheritdoc ITrainingRounds
    function claim(uint256 roundId, uint8 slot) external {
        (Round storage round, JobConfig storage config,) = _claimable(roundId, slot, false);
        uint64 commitDeadline = round.openedAt + config.commitPhase;
        uint64 deadline = uint64(block.timestamp) + config.claimTtl;
        if (deadline > commitDeadline) deadline = commitDeadline;
        _slots[round.jobId][slot] = Slot({
            trainer: msg.sender,
            roundNumber: round.number,
            claimDeadline: uint40(deadline),
            status: SlotStatus.Claimed
        });
        emit SlotClaimed(roundId, slot, msg.sender, deadline);
    }

    /// @inheritdoc ITrainingRounds
    function commit(uint256 roundId, bytes32 commitment) external {
        if (commitment == bytes32(0)) revert TrainingRoundsZeroCommitment();
        Round storage round = _round(roundId);
        JobConfig storage config = _configs[round.jobId];
        _requirePhase(roundId, round, config, Phase.Commit);
        TrainerClaim memory held = _claims[round.jobId][msg.sender];
        Slot storage slot = _slots[round.jobId][held.slot];
        if (
            held.roundId != roundId || slot.trainer != msg.sender || slot.roundNumber != round.number
                || slot.status != SlotStatus.Claimed || block.timestamp > slot.claimDeadline
        ) revert TrainingRoundsNoClaim(roundId, msg.sender);
        slot.status = SlotStatus.Committed;
        _recordCommit(roundId, round, held.slot, commitment);
    }

    /// @inheritdoc ITrainingRounds
    function claimAndCommit(uint256 roundId, uint8 slot, bytes32 commitment) external {
        if (commitment == bytes32(0)) revert TrainingRoundsZeroCommitment();
        (Round storage round,) = _claimCommitted(roundId, slot, false);
        _recordCommit(roundId, round, slot, commitment);
    }

    /// @inheritdoc ITrainingRounds
    function claimAndSubmit(
        uint256 roundId,
        uint8 slot,
        string calldata updateCID,
        bytes32 updateHash,
        bytes32 traceRoot
    ) external {
        Round storage round;
        (round, slot) = _claimCommitted(roundId, slot, true);
        round.revealedSlots |= 1 << slot;
        uint16 committed = round.committed + 1;
        round.committed = committed;
        emit UpdateCommitted(roundId, slot, msg.sender, bytes32(0));
        emit UpdateRevealed(roundId, slot, msg.sender, updateCID, updateHash, traceRoot);
        if (committed == round.slotCount) _closeCommits(roundId, round);
    }

    /// @inheritdoc ITrainingRounds
    function reveal(
        uint256 roundId,
        uint8 slot,
        string calldata updateCID,
        bytes32 updateHash,
        bytes32 traceRoot,
        bytes32 salt
    ) external {
        Round storage round = _round(roundId);
        _requirePhase(roundId, round, _configs[round.jobId], Phase.Reveal);
        Slot storage held = _slots[round.jobId][slot];
        if (held.trainer != msg.sender || held.roundNumber != round.number || held.status != SlotStatus.Committed) {
            revert TrainingRoundsNotYourSlot(roundId, slot, msg.sender);
        }
        uint256 bit = 1 << slot;
        uint256 revealedSlots = round.revealedSlots;
        if (revealedSlots & bit != 0) revert TrainingRoundsAlreadyRevealed(roundId, slot);
        bytes32 expected = keccak256(abi.encode(updateCID, updateHash, traceRoot, salt, msg.sender));
        if (_commitments[round.jobId][slot] != expected) revert TrainingRoundsBadReveal(roundId, slot);
        revealedSlots |= bit;
        round.revealedSlots = revealedSlots;
        emit UpdateRevealed(roundId, slot, msg.sender, updateCID, updateHash, traceRoot);
        if (_popcount(revealedSlots) == round.committed) _closeReveals(roundId, round);
    }

    /// @inheritdoc ITrainingRounds
    function penalizeMissedReveal(uint256 roundId, uint8 slot) external nonReentrant {
        Round storage round = _round(roundId);
        JobConfig storage config = _configs[round.jobId];
        Slot storage held = _slots[round.jobId][slot];
        uint256 revealDeadline = _commitEnd(round, config) + config.revealPhase;
        if (
            round.status != _STATUS_OPEN || held.roundNumber != round.number
                || held.status != SlotStatus.Committed || round.revealedSlots & (1 << slot) != 0
                || block.timestamp <= revealDeadline || block.timestamp > revealDeadline + config.challengePhase
        ) revert TrainingRoundsNotMissed(roundId, slot);
        held.status = SlotStatus.Penalized;
        address trainer = held.trainer;
        uint256 amount = _stakes.slash(trainer, IStakeManager.Role.Trainer, config.missedRevealPenalty, msg.sender);
        emit MissedRevealPenalized(roundId, slot, trainer, msg.sender, amount);
    }

    // ---------------------------------------------------------------- verifiers

    /// @inheritdoc ITrainingRounds
    function openVerification(uint256 roundId) external {
        Round storage round = _round(roundId);
        Phase phase = _phase(round, _configs[round.jobId]);
        if (phase != Phase.Challenge) revert TrainingRoundsWrongPhase(roundId, phase);
        Progress storage progress = _progress[round.jobId];
        uint64 anchored = progress.seedBlock;
        if (anchored != 0 && (block.number <= anchored || blockhash(anchored) != bytes32(0))) {
            revert TrainingRoundsSeedAnchored(roundId);
        }
        progress.seedBlock = uint64(block.number);
        emit VerificationAnchored(roundId, uint64(block.number));
    }

    /// @inheritdoc ITrainingRounds
    function attest(uint256 roundId, uint256 slots, int256[] calldata qualities) external {
        _attest(roundId, slots, qualities);
    }

    /// @inheritdoc ITrainingRounds
    function attestAndFinalize(
        uint256 roundId,
        uint256 slots,
        int256[] calldata qualities,
        string calldata cid,
        bytes32 weightsHash,
        int256[] calldata metrics
    ) external nonReentrant {
        Round storage round = _attest(roundId, slots, qualities);
        if (_finalizable(round, _configs[round.jobId], _proposals[round.jobId])) {
            _requireProposal(round.jobId, roundId, cid, weightsHash, metrics);
            _finalize(roundId, cid, weightsHash, metrics);
        }
    }

    // ---------------------------------------------------------------- aggregators

    /// @inheritdoc ITrainingRounds
    function propose(
        uint256 roundId,
        string calldata cid,
        bytes32 weightsHash,
        int256[] calldata metrics,
        uint256 updates
    ) external {
        Round storage round = _round(roundId);
        uint16 nonce = _openProposal(roundId, round, updates, metrics.length);
        _proposalDigests[round.jobId] = keccak256(abi.encode(cid, weightsHash, metrics));
        emit GenerationProposed(
            roundId, round.jobId, msg.sender, round.generation + 1, nonce, cid, weightsHash, metrics, updates
        );
    }

    /// @inheritdoc ITrainingRounds
    function attestProposal(uint256 roundId, string calldata cid, bytes32 weightsHash, int256[] calldata metrics)
        external
        nonReentrant
    {
        Round storage round = _round(roundId);
        JobConfig storage config = _configs[round.jobId];
        Proposal storage proposal = _proposals[round.jobId];
        if (!_proposalWindowOpen(proposal, config) || proposal.disputed) revert TrainingRoundsNoProposal(roundId);
        _requireStake(IStakeManager.Role.Verifier, config.verifierStake);
        _requireProposal(round.jobId, roundId, cid, weightsHash, metrics);
        // Bit 255 of the verifier's attestation bitmap (slots are below 255) marks a proposal attestation:
        // one per verifier per round, whichever proposal it was for.
        uint256 done = _attested[roundId][msg.sender];
        if (done & _PROPOSAL_BIT != 0) revert TrainingRoundsAlreadyAttestedProposal(roundId, msg.sender);
        _attested[roundId][msg.sender] = done | _PROPOSAL_BIT;
        // The window closes at `attestationQuorum` (a uint8), so the count never passes it.
        uint8 attestations = proposal.attestations + 1;
        proposal.attestations = attestations;
        emit ProposalAttested(roundId, msg.sender, proposal.nonce, attestations);
        // An early proposal (made during Challenge) at quorum waits for the updates to settle: the
        // attestation that settles them finalizes ({attestAndFinalize}), or anyone ({finalize}).
        if (attestations == config.attestationQuorum && _phase(round, config) == Phase.Proposal) {
            _finalize(roundId, cid, weightsHash, metrics);
        }
    }

    /// @inheritdoc ITrainingRounds
    function finalize(uint256 roundId, string calldata cid, bytes32 weightsHash, int256[] calldata metrics)
        external
        nonReentrant
    {
        Round storage round = _round(roundId);
        JobConfig storage config = _configs[round.jobId];
        Proposal storage proposal = _proposals[round.jobId];
        if (!proposal.live || round.status != _STATUS_OPEN) revert TrainingRoundsNoProposal(roundId);
        if (!_finalizable(round, config, proposal)) revert TrainingRoundsNotFinalizable(roundId);
        _requireProposal(round.jobId, roundId, cid, weightsHash, metrics);
        _finalize(roundId, cid, weightsHash, metrics);
    }

    /// @inheritdoc ITrainingRounds
    function closeEmptyRound(uint256 roundId) external {
        Round storage round = _round(roundId);
        JobConfig storage config = _configs[round.jobId];
        _requirePhase(roundId, round, config, Phase.Aggregation);
        uint256 accepted = round.revealedSlots & ~round.rejectedSlots;
        if (accepted != 0) revert TrainingRoundsWrongUpdates(0, accepted);
        round.status = _STATUS_EMPTY;
        emit RoundClosedEmpty(roundId, round.jobId);
        _openRound(round.jobId, round.generation, _nextSlotCount(round, config, _jobStates[round.jobId]));
    }

    /// @inheritdoc ITrainingRounds
    function abandonRound(uint256 roundId) external {
        Round storage round = _round(roundId);
        uint64 jobId = round.jobId;
        JobConfig storage config = _configs[jobId];
        _requirePhase(roundId, round, config, Phase.Aggregation);
        // A voided proposal whose challenge is still open is judged first: its dispute settles the round.
        if (_proposals[jobId].disputed) revert TrainingRoundsProposalPending(roundId);
        uint64 deadline = _aggregationEnd(round, config);
        if (block.timestamp <= deadline) revert TrainingRoundsNotStalled(roundId, deadline);
        round.status = _STATUS_ABANDONED;
        emit RoundAbandoned(roundId, jobId, _accepted(round));
        _openRound(jobId, round.generation, _nextSlotCount(round, config, _jobStates[jobId]));
    }

    /// @inheritdoc ITrainingRounds
    function claimVerifierRewards(uint256[] calldata roundIds) external nonReentrant returns (uint256 amount) {
        for (uint256 i = 0; i < roundIds.length; ++i) {
            uint256 roundId = roundIds[i];
            uint256 share = _verifierShare(roundId, msg.sender);
            if (share == 0) revert TrainingRoundsNothingToClaim(roundId, msg.sender);
            uint256 units = _popcount(_attested[roundId][msg.sender] & _accepted(_rounds[roundId]));
            delete _attested[roundId][msg.sender];
            amount += share;
            emit VerifierRewardClaimed(roundId, msg.sender, units, share);
        }
        amount = _min(amount, _cap - _token.totalSupply());
        // Bounded by the token's cap (1e27 < 2**128).
        _scores[msg.sender].earned += uint128(amount);
        _mintTo(msg.sender, amount);
    }

    // ---------------------------------------------------------------- disputes

    /// @inheritdoc ITrainingRounds
    function onUpdateChallenged(uint256 roundId, uint8 slot)
        external
        onlyRole(DISPUTES_ROLE)
        returns (address trainer)
    {
        Round storage round = _round(roundId);
        JobConfig storage config = _configs[round.jobId];
        if (!_challengeWindowOpen(round, config)) revert TrainingRoundsWrongPhase(roundId, _phase(round, config));
        uint256 bit = 1 << slot;
        if (round.revealedSlots & bit == 0 || round.rejectedSlots & bit != 0) {
            revert TrainingRoundsInvalidSlots(roundId, bit);
        }
        Progress storage progress = _progress[round.jobId];
        if (round.challengedSlots & bit == 0) {
            round.challengedSlots |= bit;
            if (_attestationCount(roundId, slot) < config.attestationQuorum) ++progress.checked;
        }
        ++progress.openDisputes;
        trainer = _slots[round.jobId][slot].trainer;
    }

    /// @inheritdoc ITrainingRounds
    function onUpdateDisputeResolved(uint256 roundId, uint8 slot, bool upheld)
        external
        onlyRole(DISPUTES_ROLE)
        returns (bool rejectedNow)
    {
        Round storage round = _round(roundId);
        uint256 bit = 1 << slot;
        Progress storage progress = _progress[round.jobId];
        --progress.openDisputes;
        progress.resolvedAt = uint40(block.timestamp);
        if (upheld && round.rejectedSlots & bit == 0) {
            round.rejectedSlots |= bit;
            address trainer = _slots[round.jobId][slot].trainer;
            ++_scores[trainer].rejected;
            rejectedNow = true;
            emit UpdateRejected(roundId, slot, trainer);
            Proposal storage proposal = _proposals[round.jobId];
            if (proposal.live) {
                // An early proposal aggregated the update just rejected.
                proposal.live = false;
                emit ProposalVoided(roundId, proposal.nonce);
            }
        }
        Phase phase = _phase(round, _configs[round.jobId]);
        if (phase == Phase.Aggregation || phase == Phase.Proposal) emit RoundPhaseAdvanced(roundId, phase);
    }

    /// @inheritdoc ITrainingRounds
    function onProposalChallenged(uint256 roundId)
        external
        onlyRole(DISPUTES_ROLE)
        returns (address aggregator)
    {
        Round storage round = _round(roundId);
        Proposal storage proposal = _proposals[round.jobId];
        if (!_proposalWindowOpen(proposal, _configs[round.jobId]) || proposal.disputed) {
            revert TrainingRoundsNoProposal(roundId);
        }
        proposal.disputed = true;
        aggregator = proposal.aggregator;
    }

    /// @inheritdoc ITrainingRounds
    function onProposalDisputeResolved(uint256 roundId, bool upheld) external onlyRole(DISPUTES_ROLE) {
        uint64 jobId = _round(roundId).jobId;
        Proposal storage proposal = _proposals[jobId];
        proposal.disputed = false;
        _progress[jobId].resolvedAt = uint40(block.timestamp);
        if (upheld) {
            proposal.live = false;
            emit ProposalRejected(roundId, proposal.nonce, proposal.aggregator);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITrainingRounds
    function currentRound(uint64 jobId) external view returns (uint256) {
        return _jobStates[jobId].currentRound;
    }

    /// @inheritdoc ITrainingRounds
    function jobOf(uint256 roundId) external view returns (uint64) {
        return _round(roundId).jobId;
    }

    /// @inheritdoc ITrainingRounds
    function jobConfig(uint64 jobId) external view returns (JobConfig memory) {
        if (!_jobStates[jobId].started) revert TrainingRoundsUnknownJob(jobId);
        return _configs[jobId];
    }

    /// @inheritdoc ITrainingRounds
    function roundInfo(uint256 roundId) external view returns (RoundView memory info) {
        Round storage round = _round(roundId);
        JobConfig storage config = _configs[round.jobId];
        info.jobId = round.jobId;
        info.number = round.number;
        info.generation = round.generation;
        info.phase = _phase(round, config);
        info.slotCount = round.slotCount;
        info.committed = round.committed;
        info.revealed = uint16(_popcount(round.revealedSlots));
        info.openedAt = round.openedAt;
        info.revealedSlots = round.revealedSlots;
        info.rejectedSlots = round.rejectedSlots;
        info.challengedSlots = round.challengedSlots;
        if (round.status != _STATUS_OPEN) return info;
        Progress storage progress = _progress[round.jobId];
        info.checked = progress.checked;
        info.openDisputes = progress.openDisputes;
        info.commitDeadline = _commitEnd(round, config);
        info.revealDeadline = _revealEnd(round, config);
        info.challengeDeadline = info.revealDeadline + config.challengePhase;
        info.aggregationDeadline = _aggregationEnd(round, config);
        info.seedBlock = progress.seedBlock;
        info.taskSeed = _taskSeeds[round.jobId];
    }

    /// @inheritdoc ITrainingRounds
    function phaseOf(uint256 roundId) external view returns (Phase) {
        Round storage round = _round(roundId);
        return _phase(round, _configs[round.jobId]);
    }

    /// @inheritdoc ITrainingRounds
    function openSlots(uint256 roundId) external view returns (uint8[] memory slots) {
        Round storage round = _round(roundId);
        uint256 count = round.slotCount;
        slots = new uint8[](count);
        if (_phase(round, _configs[round.jobId]) != Phase.Commit) count = 0;
        uint256 found;
        for (uint256 i = 0; i < count; ++i) {
            if (_isOpen(_slots[round.jobId][i], round.number)) slots[found++] = uint8(i);
        }
        assembly ("memory-safe") {
            mstore(slots, found)
        }
    }

    /// @inheritdoc ITrainingRounds
    function trainerState(uint256 roundId, address trainer) external view returns (TrainerView memory info) {
        Round storage round = _round(roundId);
        TrainerClaim memory held = _claims[round.jobId][trainer];
        if (round.status == _STATUS_OPEN) (info.shard, info.seed) = _task(round, trainer);
        if (held.roundId != roundId) return info;
        Slot storage slot = _slots[round.jobId][held.slot];
        info.claimed = true;
        info.slot = held.slot;
        if (slot.trainer == trainer && slot.roundNumber == round.number) {
            info.status = slot.status;
            info.claimDeadline = slot.claimDeadline;
        }
        info.revealed = round.revealedSlots & (1 << held.slot) != 0 && slot.trainer == trainer;
        info.rejected = info.revealed && round.rejectedSlots & (1 << held.slot) != 0;
    }

    /// @inheritdoc ITrainingRounds
    function taskOf(uint256 roundId, address trainer) external view returns (uint32 shard, bytes32 seed) {
        Round storage round = _round(roundId);
        if (round.status != _STATUS_OPEN) revert TrainingRoundsWrongPhase(roundId, _phase(round, _configs[round.jobId]));
        return _task(round, trainer);
    }

    /// @inheritdoc ITrainingRounds
    function verificationSeed(uint256 roundId) external view returns (bytes32) {
        return _verificationSeed(roundId, _round(roundId));
    }

    /// @inheritdoc ITrainingRounds
    function attestationsOf(uint256 roundId, uint8 slot) external view returns (uint8) {
        return uint8(_attestationCount(roundId, slot));
    }

    /// @inheritdoc ITrainingRounds
    function attestedBy(uint256 roundId, address verifier) external view returns (uint256) {
        return _attested[roundId][verifier];
    }

    /// @inheritdoc ITrainingRounds
    function proposalOf(uint256 roundId) external view returns (ProposalView memory) {
        Round storage round = _round(roundId);
        JobConfig storage config = _configs[round.jobId];
        if (round.status != _STATUS_OPEN) return ProposalView(address(0), 0, 0, 0, 0, false, false, bytes32(0));
        Proposal storage proposal = _proposals[round.jobId];
        return ProposalView({
            aggregator: proposal.aggregator,
            proposedAt: proposal.proposedAt,
            deadline: proposal.proposedAt + config.proposalPhase,
            attestations: proposal.attestations,
            nonce: proposal.nonce,
            disputed: proposal.disputed,
            finalizable: _finalizable(round, config, proposal),
            digest: _proposalDigests[round.jobId]
        });
    }

    /// @inheritdoc ITrainingRounds
    function pendingVerifierReward(uint256 roundId, address verifier) external view returns (uint256) {
        return _verifierShare(roundId, verifier);
    }

    /// @inheritdoc ITrainingRounds
    function scoreOf(address account) external view returns (Score memory) {
        AccountScore storage score = _scores[account];
        return Score({
            accepted: score.accepted,
            rejected: score.rejected,
            earned: score.earned,
            slashed: _stakes.slashedOf(account)
        });
    }

    // ---------------------------------------------------------------- internals

    function _openRound(uint64 jobId, uint32 generation, uint16 slotCount) private returns (uint256 roundId) {
        JobState storage state = _jobStates[jobId];
        roundId = ++_roundCount;
        state.currentRound = uint64(roundId);
        Round storage round = _rounds[roundId];
        round.jobId = jobId;
        round.number = ++state.rounds;
        round.generation = generation;
        round.slotCount = slotCount;
        round.openedAt = uint40(block.timestamp);
        _progress[jobId] = Progress({
            roundNumber: round.number,
            checked: 0,
            openDisputes: 0,
            commitClosedAt: 0,
            revealClosedAt: 0,
            seedBlock: 0,
            resolvedAt: 0
        });
        // The hash of the previous block and the beacon's randomness, neither of which the caller picks;
        // see the protocol notes for what a block proposer can still bias.
        bytes32 taskSeed = keccak256(abi.encode(blockhash(block.number - 1), block.prevrandao, jobId, roundId));
        _taskSeeds[jobId] = taskSeed;
        emit RoundOpened(
            roundId, jobId, round.number, generation, slotCount, taskSeed, uint64(block.timestamp) + _configs[jobId].commitPhase
        );
    }

    /// @dev Records the caller's attestation of the updates in `slots` (see {attest}); returns the round.
    function _attest(uint256 roundId, uint256 slots, int256[] calldata qualities)
        private
        returns (Round storage round)
    {
        round = _round(roundId);
        JobConfig storage config = _configs[round.jobId];
        if (!_challengeWindowOpen(round, config)) revert TrainingRoundsWrongPhase(roundId, _phase(round, config));
        _verificationSeed(roundId, round);
        _requireStake(IStakeManager.Role.Verifier, config.verifierStake);
        if (slots == 0 || slots & ~(round.revealedSlots & ~round.rejectedSlots) != 0) {
            revert TrainingRoundsInvalidSlots(roundId, slots);
        }
        uint256 done = _attested[roundId][msg.sender];
        if (done & slots != 0) revert TrainingRoundsAlreadyAttested(roundId, msg.sender, slots);
        _attested[roundId][msg.sender] = done | slots;
        (uint256 count, uint256 newlyChecked) =
            _countAttestations(roundId, slots, round.challengedSlots, config.attestationQuorum);
        if (count != qualities.length) revert TrainingRoundsQualityCount(count, qualities.length);
        emit UpdatesAttested(roundId, msg.sender, slots, qualities);
        if (newlyChecked != 0) {
            Progress storage progress = _progress[round.jobId];
            // At most the revealed slots (fewer than 255) reach quorum or are challenged.
            uint16 checked = progress.checked + uint16(newlyChecked);
            progress.checked = checked;
            if (checked == _popcount(round.revealedSlots) && progress.openDisputes == 0) {
                emit RoundPhaseAdvanced(roundId, _proposals[round.jobId].live ? Phase.Proposal : Phase.Aggregation);
            }
        }
    }

    /// @dev Records the live proposal (`cid`, `weightsHash`, `metrics`) as the job's next generation, pays the
    /// round and opens the next one.
    function _finalize(uint256 roundId, string calldata cid, bytes32 weightsHash, int256[] calldata metrics)
        private
    {
        Round storage round = _round(roundId);
        uint64 jobId = round.jobId;
        round.status = _STATUS_FINALIZED;
        Proposal storage proposal = _proposals[jobId];
        proposal.live = false;
        uint32 generation = _models.recordGeneration(jobId, uint64(roundId), cid, weightsHash, metrics);
        JobConfig storage config = _configs[jobId];
        _payRound(roundId, round, config, proposal.aggregator, generation);
        _openRound(jobId, generation, _nextSlotCount(round, config, _jobStates[jobId]));
    }

    /// @dev Reverts unless (`cid`, `weightsHash`, `metrics`) are the live proposal's values.
    function _requireProposal(
        uint64 jobId,
        uint256 roundId,
        string calldata cid,
        bytes32 weightsHash,
        int256[] calldata metrics
    ) private view {
        if (_proposalDigests[jobId] != keccak256(abi.encode(cid, weightsHash, metrics))) {
            revert TrainingRoundsProposalMismatch(roundId);
        }
    }

    /// @dev Checks a proposal (phase, exactly the accepted updates, metrics count, aggregator stake) and
    /// stores it as the round's live proposal. Returns its nonce.
    function _openProposal(uint256 roundId, Round storage round, uint256 updates, uint256 metricCount)
        private
        returns (uint16 nonce)
    {
        JobConfig storage config = _configs[round.jobId];
        Phase phase = _phase(round, config);
        if (phase != Phase.Aggregation && phase != Phase.Challenge) revert TrainingRoundsWrongPhase(roundId, phase);
        Proposal storage live = _proposals[round.jobId];
        // In Challenge a proposal may be live (the phase shows once the updates settle), or voided while
        // a challenge of it is still open.
        if (live.live || live.disputed) revert TrainingRoundsProposalPending(roundId);
        uint256 accepted = _accepted(round);
        if (updates != accepted || accepted == 0) revert TrainingRoundsWrongUpdates(accepted, updates);
        if (metricCount > _MAX_METRICS) revert TrainingRoundsTooManyMetrics(metricCount);
        _requireStake(IStakeManager.Role.Aggregator, config.aggregatorStake);
        nonce = live.nonce + 1;
        _proposals[round.jobId] = Proposal({
            aggregator: msg.sender,
            proposedAt: uint40(block.timestamp),
            attestations: 0,
            nonce: nonce,
            disputed: false,
            live: true
        });
    }

    /// @dev Auto-scaling: `demand` is an exponential average (weight 1/2, in sixteenths) of the updates
    /// committed per round; the next round offers its ceiling, plus one slot if this round filled up (there
    /// may be trainers who found no slot), within the job's bounds.
    function _nextSlotCount(Round storage round, JobConfig storage config, JobState storage state)
        private
        returns (uint16)
    {
        uint256 committed = round.committed;
        uint256 demand = (state.demand + committed * _DEMAND_ONE) / 2;
        state.demand = uint32(demand);
        uint256 next = Math.ceilDiv(demand, _DEMAND_ONE);
        if (committed == round.slotCount) ++next;
        if (next < config.minSlots) next = config.minSlots;
        if (next > config.maxSlots) next = config.maxSlots;
        return uint16(next);
    }

    /// @dev Checks that the caller can claim `slot` now; with `orNext`, a slot taken meanwhile gives way to
    /// the next open one (wrapping). Returns the slot to claim.
    function _claimable(uint256 roundId, uint8 slot, bool orNext)
        private
        returns (Round storage round, JobConfig storage config, uint8 claimed)
    {
        round = _round(roundId);
        uint64 jobId = round.jobId;
        config = _configs[jobId];
        _requirePhase(roundId, round, config, Phase.Commit);
        uint256 count = round.slotCount;
        if (slot >= count) revert TrainingRoundsSlotUnavailable(roundId, slot);
        claimed = slot;
        for (uint256 tried = 1; !_isOpen(_slots[jobId][claimed], round.number); ++tried) {
            if (!orNext || tried == count) revert TrainingRoundsSlotUnavailable(roundId, slot);
            claimed = uint8((slot + tried) % count); // below count, which is at most 255
        }
        TrainerClaim storage held = _claims[jobId][msg.sender];
        if (held.roundId == roundId) revert TrainingRoundsAlreadyClaimed(roundId, msg.sender);
        _requireStake(IStakeManager.Role.Trainer, config.trainerStake);
        held.roundId = uint64(roundId);
        held.slot = claimed;
    }

    /// @dev Claims open slot `slot` of round `roundId` for the caller and marks it committed.
    function _claimCommitted(uint256 roundId, uint8 slot, bool orNext)
        private
        returns (Round storage round, uint8 claimed)
    {
        (round,, claimed) = _claimable(roundId, slot, orNext);
        _slots[round.jobId][claimed] =
            Slot({trainer: msg.sender, roundNumber: round.number, claimDeadline: 0, status: SlotStatus.Committed});
    }

    function _recordCommit(uint256 roundId, Round storage round, uint8 slot, bytes32 commitment) private {
        _commitments[round.jobId][slot] = commitment;
        uint16 committed = round.committed + 1;
        round.committed = committed;
        emit UpdateCommitted(roundId, slot, msg.sender, commitment);
        if (committed == round.slotCount) _closeCommits(roundId, round);
    }

    /// @dev At the full house: reveals open, or, when every update is already in the open, close too.
    function _closeCommits(uint256 roundId, Round storage round) private {
        _progress[round.jobId].commitClosedAt = uint40(block.timestamp);
        if (_popcount(round.revealedSlots) == round.committed) _closeReveals(roundId, round);
        else emit RoundPhaseAdvanced(roundId, Phase.Reveal);
    }

    /// @dev At the last reveal: verification starts, seeded by this block's hash.
    function _closeReveals(uint256 roundId, Round storage round) private {
        Progress storage progress = _progress[round.jobId];
        progress.revealClosedAt = uint40(block.timestamp);
        progress.seedBlock = uint64(block.number);
        emit RoundPhaseAdvanced(roundId, Phase.Challenge);
        emit VerificationAnchored(roundId, uint64(block.number));
    }

    /// @dev Mints the rewards of a finalized round within the cap: each accepted trainer, then the aggregator;
    /// records the attestation units the verifiers' pool is shared by (claimed later, per verifier).
    function _payRound(
        uint256 roundId,
        Round storage round,
        JobConfig storage config,
        address aggregator,
        uint32 generation
    ) private {
        uint256 accepted = _accepted(round);
        uint256 room = _cap - _token.totalSupply();
        (uint256 units, uint256 roomLeft) =
            _rewardTrainers(roundId, round.jobId, accepted, config.rewardPerUpdate, room);
        // Units count attestations of at most 255 updates, each at most 255: far below 2**32.
        round.attestationUnits = uint32(units);
        uint256 aggregatorReward = _min(config.aggregatorReward, roomLeft);
        _mintTo(aggregator, aggregatorReward);
        _scores[aggregator].earned += uint128(aggregatorReward);
        uint256 pool = units == 0 ? 0 : _popcount(accepted) * config.verifierRewardPerUpdate;
        emit RoundFinalized(roundId, round.jobId, generation, aggregator, accepted, aggregatorReward, pool, units);
    }

    /// @dev Mints each accepted trainer its reward (within the cap's `room`) and sums the attestations of the
    /// accepted updates, the units the verifier pool is shared by.
    function _rewardTrainers(uint256 roundId, uint64 jobId, uint256 accepted, uint256 reward, uint256 room)
        private
        returns (uint256 units, uint256 roomLeft)
    {
        uint256 remaining = accepted;
        uint256 wordIndex = type(uint256).max;
        uint256 word;
        while (remaining != 0) {
            uint256 slot = _lowestBit(remaining);
            // Clears the lowest set bit; `remaining` is non-zero here, so `remaining - 1` cannot underflow.
            unchecked {
                remaining &= remaining - 1;
            }
            if (slot >> 5 != wordIndex) {
                wordIndex = slot >> 5;
                word = _attestationCounts[roundId][wordIndex];
            }
            units += (word >> ((slot & 31) << 3)) & 0xff;
            address trainer = _slots[jobId][slot].trainer;
            uint256 amount = _min(reward, room);
            room -= amount;
            AccountScore storage score = _scores[trainer];
            ++score.accepted;
            // Earned AOAI is bounded by the token's cap (1e27 < 2**128).
            score.earned += uint128(amount);
            _mintTo(trainer, amount);
        }
        roomLeft = room;
    }

    /// @dev Adds one attestation to each slot of `slots`, returns how many slots that was and how many of
    /// them reached `quorum` now without having been challenged before.
    function _countAttestations(uint256 roundId, uint256 slots, uint256 challenged, uint8 quorum)
        private
        returns (uint256 count, uint256 newlyChecked)
    {
        uint256 remaining = slots;
        uint256 wordIndex = type(uint256).max;
        uint256 word;
        while (remaining != 0) {
            uint256 slot = _lowestBit(remaining);
            // `remaining` is non-zero, so `remaining - 1` cannot underflow.
            unchecked {
                remaining &= remaining - 1;
            }
            if (slot >> 5 != wordIndex) {
                if (wordIndex != type(uint256).max) _attestationCounts[roundId][wordIndex] = word;
                wordIndex = slot >> 5;
                word = _attestationCounts[roundId][wordIndex];
            }
            uint256 shift = (slot & 31) << 3;
            uint256 attestations = ((word >> shift) & 0xff) + 1;
            if (attestations > type(uint8).max) revert TrainingRoundsTooManyAttestations(roundId, uint8(slot));
            // The 8-bit field is below 255 (checked above), so adding one stays inside it.
            word += 1 << shift;
            if (attestations == quorum && challenged & (1 << slot) == 0) ++newlyChecked;
            ++count;
        }
        _attestationCounts[roundId][wordIndex] = word;
    }

    function _attestationCount(uint256 roundId, uint256 slot) private view returns (uint256) {
        return (_attestationCounts[roundId][slot >> 5] >> ((slot & 31) << 3)) & 0xff;
    }

    function _verifierShare(uint256 roundId, address verifier) private view returns (uint256) {
        Round storage round = _rounds[roundId];
        uint256 totalUnits = round.attestationUnits;
        if (round.status != _STATUS_FINALIZED || totalUnits == 0) return 0;
        uint256 accepted = _accepted(round);
        uint256 units = _popcount(_attested[roundId][verifier] & accepted);
        uint256 pool = _popcount(accepted) * _configs[round.jobId].verifierRewardPerUpdate;
        return (pool * units) / totalUnits;
    }

    /// @dev Only for the job's open round: the task seed belongs to it.
    function _task(Round storage round, address trainer) private view returns (uint32 shard, bytes32 seed) {
        seed = keccak256(abi.encode(_taskSeeds[round.jobId], trainer));
        // Derived from the round's on-chain seed and the trainer's address; limits in docs/protocol.md.
        // slither-disable-next-line weak-prng
        shard = uint32(uint256(seed) % _configs[round.jobId].shardCount);
    }

    function _verificationSeed(uint256 roundId, Round storage round) private view returns (bytes32) {
        uint64 anchored = _progress[round.jobId].seedBlock;
        bool readable = round.status == _STATUS_OPEN && anchored != 0 && block.number > anchored;
        bytes32 hash = readable ? blockhash(anchored) : bytes32(0);
        // blockhash is zero exactly when the block is out of reach (future or > 256 back): intended.
        // slither-disable-next-line incorrect-equality
        if (hash == bytes32(0)) revert TrainingRoundsSeedUnavailable(roundId);
        return keccak256(abi.encode(hash, roundId));
    }

    function _phase(Round storage round, JobConfig storage config) private view returns (Phase) {
        uint8 status = round.status;
        if (status == _STATUS_FINALIZED) return Phase.Finalized;
        if (status == _STATUS_EMPTY) return Phase.Empty;
        if (status == _STATUS_ABANDONED) return Phase.Abandoned;
        Progress storage progress = _progress[round.jobId];
        if (_commitOpen(round, progress, config)) return Phase.Commit;
        if (_revealOpen(round, progress, config)) return Phase.Reveal;
        if (progress.openDisputes != 0 || _challengeWindowOpen(round, config)) return Phase.Challenge;
        return _proposals[round.jobId].live ? Phase.Proposal : Phase.Aggregation;
    }

    function _commitOpen(Round storage round, Progress storage progress, JobConfig storage config)
        private
        view
        returns (bool)
    {
        return progress.commitClosedAt == 0 && block.timestamp <= uint256(round.openedAt) + config.commitPhase;
    }

    function _revealOpen(Round storage round, Progress storage progress, JobConfig storage config)
        private
        view
        returns (bool)
    {
        return _popcount(round.revealedSlots) < round.committed
            && block.timestamp <= uint256(_commitEnd(round, config)) + config.revealPhase
            && !_commitOpen(round, progress, config);
    }

    /// @dev Whether revealed updates can still be attested or challenged: reveals are closed, some revealed
    /// update lacks both quorum and a challenge, and the deadline has not passed. Only for an open round.
    function _challengeWindowOpen(Round storage round, JobConfig storage config) private view returns (bool) {
        Progress storage progress = _progress[round.jobId];
        if (round.status != _STATUS_OPEN || progress.checked >= _popcount(round.revealedSlots)) return false;
        if (_commitOpen(round, progress, config) || _revealOpen(round, progress, config)) return false;
        return block.timestamp <= _revealEnd(round, config) + config.challengePhase;
    }

    function _proposalWindowOpen(Proposal storage proposal, JobConfig storage config) private view returns (bool) {
        return proposal.live && proposal.attestations < config.attestationQuorum
            && block.timestamp <= uint256(proposal.proposedAt) + config.proposalPhase;
    }

    /// @dev Whether the live proposal can finalize the round now: the updates are settled (Proposal phase),
    /// it is undisputed, and it has its quorum or its window ran out.
    function _finalizable(Round storage round, JobConfig storage config, Proposal storage proposal)
        private
        view
        returns (bool)
    {
        return _phase(round, config) == Phase.Proposal && !proposal.disputed && !_proposalWindowOpen(proposal, config);
    }

    /// @dev When commits closed (or will): at the last commit if every slot filled, else at the deadline.
    function _commitEnd(Round storage round, JobConfig storage config) private view returns (uint64) {
        uint40 closedAt = _progress[round.jobId].commitClosedAt;
        return closedAt != 0 ? closedAt : uint64(round.openedAt) + config.commitPhase;
    }

    /// @dev When reveals closed (or will): at the last reveal, at the commit phase's end if nothing was
    /// committed, else at the reveal deadline.
    function _revealEnd(Round storage round, JobConfig storage config) private view returns (uint64) {
        uint40 closedAt = _progress[round.jobId].revealClosedAt;
        if (closedAt != 0) return closedAt;
        uint64 commitEnd = _commitEnd(round, config);
        return round.committed == 0 ? commitEnd : commitEnd + config.revealPhase;
    }

    /// @dev When Aggregation may end without a generation ({abandonRound}): `proposalPhase` after the challenge
    /// deadline or the round's last dispute resolution (an update's, or a proposal's), whichever is later.
    function _aggregationEnd(Round storage round, JobConfig storage config) private view returns (uint64) {
        uint64 challengeEnd = _revealEnd(round, config) + config.challengePhase;
        uint40 resolvedAt = _progress[round.jobId].resolvedAt;
        return (resolvedAt > challengeEnd ? resolvedAt : challengeEnd) + config.proposalPhase;
    }

    function _requirePhase(uint256 roundId, Round storage round, JobConfig storage config, Phase expected)
        private
        view
    {
        Phase phase = _phase(round, config);
        if (phase != expected) revert TrainingRoundsWrongPhase(roundId, phase);
    }

    function _requireStake(IStakeManager.Role role, uint256 required) private view {
        uint256 active = _stakes.activeStakeOf(msg.sender, role);
        if (active < required) revert TrainingRoundsInsufficientStake(msg.sender, active, required);
    }

    function _round(uint256 roundId) private view returns (Round storage round) {
        round = _rounds[roundId];
        if (round.jobId == 0) revert TrainingRoundsUnknownRound(roundId);
    }

    function _accepted(Round storage round) private view returns (uint256) {
        return round.revealedSlots & ~round.rejectedSlots;
    }

    function _isOpen(Slot storage slot, uint32 roundNumber) private view returns (bool) {
        if (slot.roundNumber != roundNumber) return true;
        return slot.status == SlotStatus.Claimed && block.timestamp > slot.claimDeadline;
    }

    /// @dev The token is the protocol's own AOAIToken, fixed at construction: its `mint` calls no hook on
    /// the receiver or anywhere else, so nothing can re-enter through it (Slither sees an external call).
    function _mintTo(address to, uint256 amount) private {
        // slither-disable-next-line reentrancy-no-eth
        if (amount != 0) _token.mint(to, amount);
    }

    function _lowestBit(uint256 x) private pure returns (uint256) {
        // Two's complement isolates the lowest set bit; `x` is non-zero at every call site.
        unchecked {
            return Math.log2(x & (0 - x));
        }
    }

    /// @dev Number of set bits (SWAR popcount).
    function _popcount(uint256 x) private pure returns (uint256) {
        unchecked {
            // Each step adds neighbouring bit counts inside their own field, so no field overflows into the
            // next; the final multiply sums the byte counts into the top byte, exact while at most 255 bits
            // are set, which holds for slot bitmaps (slots are below 255).
            x -= (x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555;
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            return (x * 0x0101010101010101010101010101010101010101010101010101010101010101) >> 248;
        }
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
