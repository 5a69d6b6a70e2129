// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IDisputes} from "./interfaces/IDisputes.sol";
import {IJobRegistry} from "./interfaces/IJobRegistry.sol";
import {IStakeManager} from "./interfaces/IStakeManager.sol";
import {ITrainingRounds} from "./interfaces/ITrainingRounds.sol";

/// @title Disputes
/// @notice A staked verifier challenges a revealed update or an aggregation proposal with a bond. A panel of
/// other staked verifiers (never the challenger nor the accused) is drawn from the hash of the block after
/// the challenge, which did not exist when the challenge was sent, and votes with commit-reveal. The
/// majority decides: the loser is slashed, part of it rewards the winner; the challenger's bond is returned
/// if it was right (or no majority formed) and forfeited if it was wrong; panel members that do not reveal
/// a vote lose the job's panel penalty.
/// @dev Holds SLASHER_ROLE on the stake manager (which also holds the bonds) and DISPUTES_ROLE on the rounds.
/// The draw is bounded: at most `panelSize * drawAttemptsPerSeat() + drawScanLimit()` pool lookups.
contract Disputes is IDisputes, ReentrancyGuard {
    uint256 private constant _DRAW_ATTEMPTS_PER_SEAT = 8;
    uint256 private constant _DRAW_SCAN_LIMIT = 128;

    uint8 private constant _VOTE_NONE = 0;
    uint8 private constant _VOTE_MEMBER = 1;
    uint8 private constant _VOTE_COMMITTED = 2;
    uint8 private constant _VOTE_UPHELD = 3;
    uint8 private constant _VOTE_REJECTED = 4;

    struct Dispute {
        uint64 roundId;
        uint64 jobId;
        uint32 segment;
        uint8 slot;
        Kind kind;
        Status status;
        bool drawn;
        uint8 committed;
        uint8 revealed;
        uint8 upheldVotes;
        uint8 rejectedVotes;
        address challenger;
        uint40 commitDeadline;
        uint40 revealDeadline;
        address accused;
        uint64 anchorBlock;
        uint96 bond;
        address[] panel;
    }

    IStakeManager private immutable _stakes;
    IJobRegistry private immutable _jobs;
    ITrainingRounds private immutable _rounds;

    uint256 private _disputeCount;
    mapping(uint256 disputeId => Dispute) private _disputes;
    mapping(uint256 disputeId => mapping(address voter => bytes32)) private _voteCommitments;
    mapping(uint256 disputeId => mapping(address voter => uint8)) private _voteStates;

    /// @param stakes_ The stake manager (this contract needs its SLASHER_ROLE).
    /// @param jobs_ The job registry (bonds, stakes, panel size and vote phases).
    /// @param rounds_ The rounds contract (this contract needs its DISPUTES_ROLE).
    constructor(IStakeManager stakes_, IJobRegistry jobs_, ITrainingRounds rounds_) {
        _stakes = stakes_;
        _jobs = jobs_;
        _rounds = rounds_;
    }

    /// @inheritdoc IDisputes
    function challengeUpdate(uint256 roundId, uint8 slot, uint32 segment)
        external
        payable
        nonReentrant
        returns (uint256 disputeId)
    {
        uint64 jobId = _rounds.jobOf(roundId);
        IJobRegistry.JobSpec memory spec = _checkChallenger(jobId);
        address accused = _rounds.onUpdateChallenged(roundId, slot);
        Dispute storage dispute_;
        (disputeId, dispute_) = _open(Kind.Update, roundId, jobId, accused, segment, spec);
        dispute_.slot = slot;
        emit UpdateChallenged(
            disputeId,
            uint64(roundId),
            msg.sender,
            slot,
            accused,
            segment,
            msg.value,
            dispute_.anchorBlock,
            dispute_.commitDeadline,
            dispute_.revealDeadline
        );
        _stakes.lockBond{value: msg.value}(msg.sender);
    }

    /// @inheritdoc IDisputes
    function challengeProposal(uint256 roundId, uint32 segment)
        external
        payable
        nonReentrant
        returns (uint256 disputeId)
    {
        uint64 jobId = _rounds.jobOf(roundId);
        IJobRegistry.JobSpec memory spec = _checkChallenger(jobId);
        address accused = _rounds.onProposalChallenged(roundId);
        Dispute storage dispute_;
        (disputeId, dispute_) = _open(Kind.Proposal, roundId, jobId, accused, segment, spec);
        emit ProposalChallenged(
            disputeId,
            uint64(roundId),
            msg.sender,
            accused,
            segment,
            msg.value,
            dispute_.anchorBlock,
            dispute_.commitDeadline,
            dispute_.revealDeadline
        );
        _stakes.lockBond{value: msg.value}(msg.sender);
    }

    /// @inheritdoc IDisputes
    function drawPanel(uint256 disputeId) external {
        Dispute storage dispute_ = _pending(disputeId);
        if (dispute_.drawn) revert DisputesPanelDrawn(disputeId);
        if (block.timestamp > dispute_.commitDeadline) revert DisputesCommitClosed(disputeId);
        uint64 anchorBlock = dispute_.anchorBlock;
        if (block.number <= anchorBlock) revert DisputesTooEarly(disputeId, anchorBlock);
        bytes32 hash = blockhash(anchorBlock);
        if (hash == bytes32(0)) {
            // More than 256 blocks ago: the hash is gone. The next block's hash is just as unknown today.
            dispute_.anchorBlock = uint64(block.number);
            emit PanelReanchored(disputeId, uint64(block.number));
            return;
        }
        bytes32 seed = keccak256(abi.encode(hash, disputeId));
        IJobRegistry.JobSpec memory spec = _jobs.job(dispute_.jobId);
        _draw(disputeId, dispute_, seed, spec.panelSize, spec.verifierStake);
        dispute_.drawn = true;
        emit PanelDrawn(disputeId, dispute_.panel, seed);
    }

    /// @inheritdoc IDisputes
    function commitVote(uint256 disputeId, bytes32 commitment) external {
        if (commitment == bytes32(0)) revert DisputesZeroCommitment();
        Dispute storage dispute_ = _pending(disputeId);
        if (!_commitOpen(dispute_)) revert DisputesCommitClosed(disputeId);
        uint8 state = _voteStates[disputeId][msg.sender];
        if (state == _VOTE_NONE) revert DisputesNotOnPanel(disputeId, msg.sender);
        if (state != _VOTE_MEMBER) revert DisputesAlreadyVoted(disputeId, msg.sender);
        _voteStates[disputeId][msg.sender] = _VOTE_COMMITTED;
        _voteCommitments[disputeId][msg.sender] = commitment;
        ++dispute_.committed;
        emit VoteCommitted(disputeId, msg.sender, commitment);
    }

    /// @inheritdoc IDisputes
    function revealVote(uint256 disputeId, bool upheld, bytes32 salt) external {
        Dispute storage dispute_ = _pending(disputeId);
        if (_commitOpen(dispute_) || block.timestamp > dispute_.revealDeadline) revert DisputesRevealClosed(disputeId);
        if (_voteStates[disputeId][msg.sender] != _VOTE_COMMITTED) {
            revert DisputesNothingToReveal(disputeId, msg.sender);
        }
        bytes32 expected = keccak256(abi.encode(disputeId, upheld, salt, msg.sender));
        if (_voteCommitments[disputeId][msg.sender] != expected) revert DisputesBadVote(disputeId, msg.sender);
        _voteStates[disputeId][msg.sender] = upheld ? _VOTE_UPHELD : _VOTE_REJECTED;
        ++dispute_.revealed;
        if (upheld) ++dispute_.upheldVotes;
        else ++dispute_.rejectedVotes;
        emit VoteRevealed(disputeId, msg.sender, upheld);
    }

    /// @inheritdoc IDisputes
    function resolve(uint256 disputeId) external nonReentrant {
        Dispute storage dispute_ = _pending(disputeId);
        if (!_resolvable(dispute_)) revert DisputesNotResolvable(disputeId);
        uint8 upheldVotes = dispute_.upheldVotes;
        uint8 rejectedVotes = dispute_.rejectedVotes;
        Status status = upheldVotes > rejectedVotes
            ? Status.Upheld
            : (rejectedVotes > upheldVotes ? Status.Rejected : Status.Dismissed);
        dispute_.status = status;
        IJobRegistry.JobSpec memory spec = _jobs.job(dispute_.jobId);
        (address loser, uint256 slashed) = _settle(dispute_, status, spec);
        emit DisputeResolved(disputeId, status, upheldVotes, rejectedVotes, loser, slashed);
        _penalizeAbsent(disputeId, dispute_.panel, spec.panelPenalty);
    }

    /// @inheritdoc IDisputes
    function dispute(uint256 disputeId) external view returns (DisputeView memory) {
        Dispute storage dispute_ = _disputes[disputeId];
        if (dispute_.status == Status.None) revert DisputesUnknownDispute(disputeId);
        return DisputeView({
            kind: dispute_.kind,
            status: dispute_.status,
            roundId: dispute_.roundId,
            jobId: dispute_.jobId,
            slot: dispute_.slot,
            segment: dispute_.segment,
            challenger: dispute_.challenger,
            accused: dispute_.accused,
            bond: dispute_.bond,
            anchorBlock: dispute_.anchorBlock,
            commitDeadline: dispute_.commitDeadline,
            revealDeadline: dispute_.revealDeadline,
            drawn: dispute_.drawn,
            committed: dispute_.committed,
            revealed: dispute_.revealed,
            upheldVotes: dispute_.upheldVotes,
            rejectedVotes: dispute_.rejectedVotes,
            panel: dispute_.panel
        });
    }

    /// @inheritdoc IDisputes
    function disputeCount() external view returns (uint256) {
        return _disputeCount;
    }

    /// @inheritdoc IDisputes
    function drawAttemptsPerSeat() external pure returns (uint256) {
        return _DRAW_ATTEMPTS_PER_SEAT;
    }

    /// @inheritdoc IDisputes
    function drawScanLimit() external pure returns (uint256) {
        return _DRAW_SCAN_LIMIT;
    }

    function _checkChallenger(uint64 jobId) private view returns (IJobRegistry.JobSpec memory spec) {
        spec = _jobs.job(jobId);
        if (msg.value != spec.challengeBond) revert DisputesWrongBond(spec.challengeBond, msg.value);
        uint256 active = _stakes.activeStakeOf(msg.sender, IStakeManager.Role.Verifier);
        if (active < spec.verifierStake) revert DisputesInsufficientStake(msg.sender, active, spec.verifierStake);
    }

    function _open(
        Kind kind,
        uint256 roundId,
        uint64 jobId,
        address accused,
        uint32 segment,
        IJobRegistry.JobSpec memory spec
    ) private returns (uint256 disputeId, Dispute storage dispute_) {
        if (accused == msg.sender) revert DisputesSelfChallenge(msg.sender);
        disputeId = ++_disputeCount;
        dispute_ = _disputes[disputeId];
        uint256 commitDeadline = block.timestamp + spec.voteCommitPhase;
        dispute_.roundId = uint64(roundId);
        dispute_.jobId = jobId;
        dispute_.segment = segment;
        dispute_.kind = kind;
        dispute_.status = Status.Pending;
        dispute_.challenger = msg.sender;
        dispute_.commitDeadline = uint40(commitDeadline);
        dispute_.revealDeadline = uint40(commitDeadline + spec.voteRevealPhase);
        dispute_.accused = accused;
        // The block after this one: its hash does not exist while the challenge is being sent.
        dispute_.anchorBlock = uint64(block.number + 1);
        // Bonds are a job parameter, a uint96.
        dispute_.bond = uint96(msg.value);
    }

    /// @dev Fills up to `panelSize` seats with distinct pool members that hold `minStake` of active verifier
    /// stake and are neither the challenger nor the accused. Seats are drawn at uniformly random pool
    /// positions, `_DRAW_ATTEMPTS_PER_SEAT` tries per seat; seats still empty then are filled walking the
    /// pool from a random position over at most `_DRAW_SCAN_LIMIT` members, so a pool of up to that size
    /// always yields a full panel when it has enough eligible members. A thinner pool yields a smaller panel
    /// (possibly none: the dispute is then dismissed).
    function _draw(uint256 disputeId, Dispute storage dispute_, bytes32 seed, uint8 panelSize, uint256 minStake)
        private
    {
        uint256 pool = _stakes.poolSize(IStakeManager.Role.Verifier);
        if (pool == 0) return;
        uint256 attempts = uint256(panelSize) * _DRAW_ATTEMPTS_PER_SEAT;
        for (uint256 i = 0; i < attempts && dispute_.panel.length < panelSize; ++i) {
            // The seed is a future blockhash, unknown at challenge time; its limits are in docs/protocol.md.
            // slither-disable-next-line weak-prng
            _seat(disputeId, dispute_, uint256(keccak256(abi.encode(seed, i))) % pool, minStake);
        }
        if (dispute_.panel.length == panelSize) return;
        // slither-disable-next-line weak-prng
        uint256 start = uint256(keccak256(abi.encode(seed, attempts))) % pool;
        uint256 scan = pool < _DRAW_SCAN_LIMIT ? pool : _DRAW_SCAN_LIMIT;
        for (uint256 j = 0; j < scan && dispute_.panel.length < panelSize; ++j) {
            // slither-disable-next-line weak-prng
            _seat(disputeId, dispute_, (start + j) % pool, minStake);
        }
    }

    /// @dev Seats the pool member at `position` if it is eligible and not seated yet.
    function _seat(uint256 disputeId, Dispute storage dispute_, uint256 position, uint256 minStake) private {
        address candidate = _stakes.poolMember(IStakeManager.Role.Verifier, position);
        if (candidate == dispute_.challenger || candidate == dispute_.accused) return;
        if (_voteStates[disputeId][candidate] != _VOTE_NONE) return;
        if (_stakes.activeStakeOf(candidate, IStakeManager.Role.Verifier) < minStake) return;
        _voteStates[disputeId][candidate] = _VOTE_MEMBER;
        dispute_.panel.push(candidate);
    }

    /// @dev Applies the verdict: tells the rounds, slashes the loser (reward to the winner) and returns or
    /// forfeits the bond. An update already rejected by an earlier dispute is not slashed twice.
    function _settle(Dispute storage dispute_, Status status, IJobRegistry.JobSpec memory spec)
        private
        returns (address loser, uint256 slashed)
    {
        address challenger = dispute_.challenger;
        address accused = dispute_.accused;
        uint256 bond = dispute_.bond;
        bool upheld = status == Status.Upheld;
        bool punishAccused = upheld;
        IStakeManager.Role accusedRole;
        uint256 accusedStake;
        if (dispute_.kind == Kind.Update) {
            punishAccused = _rounds.onUpdateDisputeResolved(dispute_.roundId, dispute_.slot, upheld);
            accusedRole = IStakeManager.Role.Trainer;
            accusedStake = spec.trainerStake;
        } else {
            _rounds.onProposalDisputeResolved(dispute_.roundId, upheld);
            accusedRole = IStakeManager.Role.Aggregator;
            accusedStake = spec.aggregatorStake;
        }
        if (status == Status.Rejected) {
            loser = challenger;
            slashed = _stakes.slash(challenger, IStakeManager.Role.Verifier, spec.verifierStake, accused);
            _stakes.forfeitBond(challenger, bond, accused);
            return (loser, slashed);
        }
        if (punishAccused) {
            loser = accused;
            slashed = _stakes.slash(accused, accusedRole, accusedStake, challenger);
        }
        _stakes.returnBond(challenger, bond);
    }

    function _penalizeAbsent(uint256 disputeId, address[] storage panel, uint256 penalty) private {
        if (penalty == 0) return;
        uint256 seats = panel.length;
        for (uint256 i = 0; i < seats; ++i) {
            address member = panel[i];
            uint8 state = _voteStates[disputeId][member];
            if (state == _VOTE_UPHELD || state == _VOTE_REJECTED) continue;
            uint256 amount = _stakes.slash(member, IStakeManager.Role.Verifier, penalty, address(0));
            emit PanelMemberPenalized(disputeId, member, amount);
        }
    }

    function _pending(uint256 disputeId) private view returns (Dispute storage dispute_) {
        dispute_ = _disputes[disputeId];
        if (dispute_.status == Status.None) revert DisputesUnknownDispute(disputeId);
        if (dispute_.status != Status.Pending) revert DisputesNotPending(disputeId);
    }

    /// @dev Votes can be committed once the panel is drawn, until every member committed or the deadline.
    function _commitOpen(Dispute storage dispute_) private view returns (bool) {
        return dispute_.drawn && dispute_.committed < dispute_.panel.length
            && block.timestamp <= dispute_.commitDeadline;
    }

    function _resolvable(Dispute storage dispute_) private view returns (bool) {
        if (!dispute_.drawn) return block.timestamp > dispute_.commitDeadline;
        if (_commitOpen(dispute_)) return false;
        return dispute_.revealed == dispute_.committed || block.timestamp > dispute_.revealDeadline;
    }
}
