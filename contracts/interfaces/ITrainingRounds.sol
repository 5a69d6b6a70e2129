// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Rounds of training: slots, commit-reveal of updates, attestations, aggregation, finality, rewards
/// @notice Errors, events and calls of {TrainingRounds}. Every state change emits an event that carries what
/// an agent needs to rebuild the state (ids indexed, CIDs in the data); CIDs are never stored.
interface ITrainingRounds {
    /// @notice Where a round stands. `Challenge` lasts until its window closed and every dispute on an
    /// update is resolved; `Proposal` from a proposal until finality.
    enum Phase {
        None,
        Commit,
        Reveal,
        Challenge,
        Aggregation,
        Proposal,
        Finalized,
        Empty,
        Abandoned
    }

    /// @notice A slot's state within its round.
    enum SlotStatus {
        Open,
        Claimed,
        Committed,
        Penalized
    }

    /// @notice Parameters a job's rounds use, copied from the job registry when the job starts.
    struct JobConfig {
        uint96 trainerStake;
        uint96 verifierStake;
        uint32 claimTtl;
        uint32 commitPhase;
        uint96 aggregatorStake;
        uint96 missedRevealPenalty;
        uint32 revealPhase;
        uint32 challengePhase;
        uint96 rewardPerUpdate;
        uint96 verifierRewardPerUpdate;
        uint32 proposalPhase;
        uint32 shardCount;
        uint96 aggregatorReward;
        uint16 minSlots;
        uint16 maxSlots;
        uint8 attestationQuorum;
    }

    /// @notice A round as the views show it. Deadlines are inclusive block times; a phase may close before
    /// its deadline (see the protocol notes). Once a round is closed, only what it keeps for good is shown
    /// (job, number, generation, phase, slots, counts of commits and reveals, bitmaps); its deadlines,
    /// seeds and dispute counters read as zero (they are in its events).
    struct RoundView {
        uint64 jobId;
        uint32 number;
        uint32 generation;
        Phase phase;
        uint16 slotCount;
        uint16 committed;
        uint16 revealed;
        uint16 checked;
        uint16 openDisputes;
        uint64 openedAt;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint64 challengeDeadline;
        uint64 aggregationDeadline;
        uint64 seedBlock;
        bytes32 taskSeed;
        uint256 revealedSlots;
        uint256 rejectedSlots;
        uint256 challengedSlots;
    }

    /// @notice A trainer's standing in one round, and its task.
    struct TrainerView {
        bool claimed;
        uint8 slot;
        SlotStatus status;
        uint64 claimDeadline;
        bool revealed;
        bool rejected;
        uint32 shard;
        bytes32 seed;
    }

    /// @notice The live aggregation proposal of a round.
    struct ProposalView {
        address aggregator;
        uint64 proposedAt;
        uint64 deadline;
        uint8 attestations;
        uint16 nonce;
        bool disputed;
        bool finalizable;
        bytes32 digest;
    }

    /// @notice An account's record over all jobs: updates accepted and rejected as a trainer, AOAI earned in
    /// every role, ETH slashed in every role.
    struct Score {
        uint64 accepted;
        uint64 rejected;
        uint128 earned;
        uint256 slashed;
    }

    /// @dev No job `jobId` in the job registry, or it was never started here.
    error TrainingRoundsUnknownJob(uint64 jobId);
    /// @dev Job `jobId` already runs.
    error TrainingRoundsJobStarted(uint64 jobId);
    /// @dev No round `roundId`.
    error TrainingRoundsUnknownRound(uint256 roundId);
    /// @dev Round `roundId` is in `phase`, not where this call belongs.
    error TrainingRoundsWrongPhase(uint256 roundId, Phase phase);
    /// @dev `account` has `active` wei of active stake; `required` are needed.
    error TrainingRoundsInsufficientStake(address account, uint256 active, uint256 required);
    /// @dev Slot `slot` does not exist in round `roundId`, or is taken.
    error TrainingRoundsSlotUnavailable(uint256 roundId, uint8 slot);
    /// @dev `trainer` already claimed a slot in round `roundId` (a lapsed claim counts).
    error TrainingRoundsAlreadyClaimed(uint256 roundId, address trainer);
    /// @dev `trainer` holds no live claim in round `roundId` (never claimed, lapsed or already committed).
    error TrainingRoundsNoClaim(uint256 roundId, address trainer);
    /// @dev Slot `slot` of round `roundId` is not the caller's committed update.
    error TrainingRoundsNotYourSlot(uint256 roundId, uint8 slot, address caller);
    /// @dev The update in slot `slot` of round `roundId` was already revealed.
    error TrainingRoundsAlreadyRevealed(uint256 roundId, uint8 slot);
    /// @dev The revealed values do not hash to the commitment of slot `slot`.
    error TrainingRoundsBadReveal(uint256 roundId, uint8 slot);
    /// @dev A commitment of zero.
    error TrainingRoundsZeroCommitment();
    /// @dev The verification seed of round `roundId` is not drawn yet (or its anchor block is too old).
    error TrainingRoundsSeedUnavailable(uint256 roundId);
    /// @dev The verification seed of round `roundId` is already anchored to a block that is still readable.
    error TrainingRoundsSeedAnchored(uint256 roundId);
    /// @dev `slots` names an update that is not revealed, or is rejected.
    error TrainingRoundsInvalidSlots(uint256 roundId, uint256 slots);
    /// @dev `verifier` already attested one of `slots`.
    error TrainingRoundsAlreadyAttested(uint256 roundId, address verifier, uint256 slots);
    /// @dev One quality per attested update, in slot order: `expected` were needed, `given` given.
    error TrainingRoundsQualityCount(uint256 expected, uint256 given);
    /// @dev Slot `slot` of round `roundId` already has 255 attestations.
    error TrainingRoundsTooManyAttestations(uint256 roundId, uint8 slot);
    /// @dev The update in slot `slot` was revealed or penalized, or its reveal phase is not over.
    error TrainingRoundsNotMissed(uint256 roundId, uint8 slot);
    /// @dev The updates an aggregation names are not exactly the accepted ones.
    error TrainingRoundsWrongUpdates(uint256 expected, uint256 given);
    /// @dev Round `roundId` has no live proposal.
    error TrainingRoundsNoProposal(uint256 roundId);
    /// @dev The proposal of round `roundId` cannot be finalized yet (window open or under dispute).
    error TrainingRoundsNotFinalizable(uint256 roundId);
    /// @dev The values given to finalize are not the proposal's.
    error TrainingRoundsProposalMismatch(uint256 roundId);
    /// @dev `verifier` already attested the live proposal of round `roundId`.
    error TrainingRoundsAlreadyAttestedProposal(uint256 roundId, address verifier);
    /// @dev Nothing to claim for `verifier` in round `roundId`.
    error TrainingRoundsNothingToClaim(uint256 roundId, address verifier);
    /// @dev Too many metrics (at most 16).
    error TrainingRoundsTooManyMetrics(uint256 count);
    /// @dev A proposal is live in round `roundId`, or a voided one is still disputed: no new one until then.
    error TrainingRoundsProposalPending(uint256 roundId);
    /// @notice Round `roundId` may still be aggregated: it can be abandoned after `deadline`.
    error TrainingRoundsNotStalled(uint256 roundId, uint64 deadline);

    /// @notice Round `roundId` of job `jobId` (its `number`-th) opened from generation `generation` with
    /// `slotCount` slots; trainers' shards and seeds derive from `taskSeed`; commits close by
    /// `commitDeadline` at the latest.
    event RoundOpened(
        uint256 indexed roundId,
        uint64 indexed jobId,
        uint32 number,
        uint32 generation,
        uint16 slotCount,
        bytes32 taskSeed,
        uint64 commitDeadline
    );
    /// @notice `trainer` reserved slot `slot` and must commit by `claimDeadline`, or the slot reopens.
    event SlotClaimed(uint256 indexed roundId, uint8 indexed slot, address indexed trainer, uint64 claimDeadline);
    /// @notice `trainer` committed to its update in slot `slot` (also the claim, when done in one call).
    event UpdateCommitted(uint256 indexed roundId, uint8 indexed slot, address indexed trainer, bytes32 commitment);
    /// @notice `trainer` revealed its update: weights delta at `updateCID` hashing to `updateHash`, trace
    /// checkpoints under Merkle root `traceRoot`.
    event UpdateRevealed(
        uint256 indexed roundId,
        uint8 indexed slot,
        address indexed trainer,
        string updateCID,
        bytes32 updateHash,
        bytes32 traceRoot
    );
    /// @notice A phase of round `roundId` closed before its deadline because everyone it waited for acted;
    /// `phase` is the phase that begins.
    event RoundPhaseAdvanced(uint256 indexed roundId, Phase phase);
    /// @notice The verification seed of round `roundId` is the hash of block `blockNumber` (readable from the
    /// next block on) mixed with the round id.
    event VerificationAnchored(uint256 indexed roundId, uint64 blockNumber);
    /// @notice `verifier` checked the updates in bitmap `slots` and measured their `qualities` (validation
    /// loss improvement scaled by 1e6, in slot order).
    event UpdatesAttested(uint256 indexed roundId, address indexed verifier, uint256 slots, int256[] qualities);
    /// @notice `trainer` committed in slot `slot` and never revealed: `amount` wei slashed, part to `reporter`.
    event MissedRevealPenalized(
        uint256 indexed roundId, uint8 indexed slot, address indexed trainer, address reporter, uint256 amount
    );
    /// @notice The update in slot `slot` lost a challenge: it is never aggregated nor rewarded.
    event UpdateRejected(uint256 indexed roundId, uint8 indexed slot, address indexed trainer);
    /// @notice `aggregator` proposed generation `generation` of job `jobId` from the accepted updates in bitmap
    /// `updates`: weights at `cid` hashing to `weightsHash`, evaluation `metrics` scaled by 1e6.
    event GenerationProposed(
        uint256 indexed roundId,
        uint64 indexed jobId,
        address indexed aggregator,
        uint32 generation,
        uint16 nonce,
        string cid,
        bytes32 weightsHash,
        int256[] metrics,
        uint256 updates
    );
    /// @notice `verifier` recomputed proposal `nonce` of round `roundId` and agrees; `attestations` so far.
    event ProposalAttested(uint256 indexed roundId, address indexed verifier, uint16 nonce, uint8 attestations);
    /// @notice Proposal `nonce` of round `roundId` lost a challenge; the round takes proposals again.
    event ProposalRejected(uint256 indexed roundId, uint16 nonce, address indexed aggregator);
    /// @notice Early proposal `nonce` of round `roundId` aggregated an update that was then rejected: it is
    /// void (no fault of its aggregator), and the round takes proposals again.
    event ProposalVoided(uint256 indexed roundId, uint16 nonce);
    /// @notice Round `roundId` is final: generation `generation` of job `jobId` is recorded; the updates in
    /// bitmap `acceptedSlots` were aggregated and their trainers minted the job's reward each (the token's
    /// `Transfer` events carry the amounts); `aggregatorReward` AOAI minted to `aggregator`; `verifierPool`
    /// AOAI shared by the `attestationUnits` attestations of accepted updates, minted when claimed.
    event RoundFinalized(
        uint256 indexed roundId,
        uint64 indexed jobId,
        uint32 indexed generation,
        address aggregator,
        uint256 acceptedSlots,
        uint256 aggregatorReward,
        uint256 verifierPool,
        uint256 attestationUnits
    );
    /// @notice Round `roundId` ended without any accepted update; the next round trains from the same
    /// generation.
    event RoundClosedEmpty(uint256 indexed roundId, uint64 indexed jobId);
    /// @notice Round `roundId` stayed in Aggregation past its deadline with `acceptedSlots` accepted: it
    /// ended with no generation and no reward; the next round trains from the same generation.
    event RoundAbandoned(uint256 indexed roundId, uint64 indexed jobId, uint256 acceptedSlots);
    /// @notice `verifier` was minted `amount` AOAI for `units` attestations of accepted updates.
    event VerifierRewardClaimed(uint256 indexed roundId, address indexed verifier, uint256 units, uint256 amount);

    /// @notice Copies job `jobId`'s parameters and opens its first round from generation 0. Anyone may call,
    /// once per job.
    /// @return roundId The first round's id.
    function startJob(uint64 jobId) external returns (uint256 roundId);

    /// @notice Reserves slot `slot` of round `roundId` for the caller, who must then {commit} within the
    /// job's claim TTL. Needs the job's trainer stake active. One claim per trainer per round.
    function claim(uint256 roundId, uint8 slot) external;

    /// @notice Commits the caller's update in the slot it claimed. `commitment` is
    /// `keccak256(abi.encode(updateCID, updateHash, traceRoot, salt, trainer))`.
    function commit(uint256 roundId, bytes32 commitment) external;

    /// @notice {claim} and {commit} in one call: the sealed path (a trainer's task (shard, seed) is known
    /// from the round's opening on, so it trains before it claims).
    function claimAndCommit(uint256 roundId, uint8 slot, bytes32 commitment) external;

    /// @notice {claimAndCommit} and {reveal} in one call, the usual path: publishes the caller's update in
    /// the open, in slot `slot` or, if another trainer took it meanwhile, the next open one (wrapping; the
    /// events name the slot). Its task (shard, seed) derives from the caller's address, so a copy of another's update
    /// fails its replay; the verification seed still comes from the block of the round's last update.
    /// Emits {UpdateCommitted} with a zero commitment (none is kept), then {UpdateRevealed}.
    function claimAndSubmit(
        uint256 roundId,
        uint8 slot,
        string calldata updateCID,
        bytes32 updateHash,
        bytes32 traceRoot
    ) external;

    /// @notice Reveals the caller's update in slot `slot`, once commits are closed and before the reveal
    /// deadline. The values must hash, with the caller's address, to its commitment.
    function reveal(
        uint256 roundId,
        uint8 slot,
        string calldata updateCID,
        bytes32 updateHash,
        bytes32 traceRoot,
        bytes32 salt
    ) external;

    /// @notice Anchors the verification seed of a round whose reveal phase ended at its deadline (or
    /// re-anchors it if its block is older than 256 blocks). Anyone may call.
    function openVerification(uint256 roundId) external;

    /// @notice Attests, as a staked verifier, that the updates in bitmap `slots` passed the checks, with the
    /// quality measured for each (in slot order). Only during the challenge window.
    function attest(uint256 roundId, uint256 slots, int256[] calldata qualities) external;

    /// @notice {attest}, then, if that settled the round's updates with its live proposal already at quorum
    /// (attested early), {finalize} with (`cid`, `weightsHash`, `metrics`), which must be the proposal's
    /// values; otherwise only the attestation. Saves the round a transaction: the verifier whose
    /// attestation the round waits for brings finality with it.
    function attestAndFinalize(
        uint256 roundId,
        uint256 slots,
        int256[] calldata qualities,
        string calldata cid,
        bytes32 weightsHash,
        int256[] calldata metrics
    ) external;

    /// @notice Slashes the job's missed-reveal penalty from the trainer of a committed update that was never
    /// revealed; part goes to the caller. Anyone, from the reveal phase's end until its challenge deadline.
    function penalizeMissedReveal(uint256 roundId, uint8 slot) external;

    /// @notice Proposes the next generation, as a staked aggregator, from exactly the accepted updates
    /// (`updates`, a bitmap of slots): in Aggregation, or early, during Challenge, from the revealed updates
    /// not rejected so far (the proposal is then void if one of them is rejected: {ProposalVoided}). The
    /// first proposal holds the round until it is finalized, rejected or voided.
    function propose(
        uint256 roundId,
        string calldata cid,
        bytes32 weightsHash,
        int256[] calldata metrics,
        uint256 updates
    ) external;

    /// @notice Attests, as a staked verifier, that the live proposal recomputes to (`cid`, `weightsHash`,
    /// `metrics`), which must be the proposal's values. The attestation that completes the job's quorum
    /// finalizes the round in the same transaction (see {finalize}), once its updates are settled (an
    /// early proposal waits for them: see {attestAndFinalize}).
    function attestProposal(uint256 roundId, string calldata cid, bytes32 weightsHash, int256[] calldata metrics)
        external;

    /// @notice Finalizes the round with its proposal (the values must be the proposal's): records the
    /// generation, mints the trainers' and aggregator's rewards, reserves the verifiers' and opens the next
    /// round. Anyone may call, in the Proposal phase, once the proposal has its quorum or its window has
    /// run out, undisputed (a quorum of attestations finalizes in {attestProposal} or {attestAndFinalize}).
    function finalize(uint256 roundId, string calldata cid, bytes32 weightsHash, int256[] calldata metrics)
        external;

    /// @notice Closes a round that ended with no accepted update and opens the next from the same
    /// generation. Anyone may call.
    function closeEmptyRound(uint256 roundId) external;

    /// @notice Ends a round that no proposal took out of Aggregation by its `aggregationDeadline`
    /// (`proposalPhase` after the challenge deadline or the round's last dispute resolution, whichever is
    /// later): no generation is recorded and nothing is minted; the next round opens from the same
    /// generation. Anyone may call. It keeps a job alive when an accepted update cannot be aggregated.
    function abandonRound(uint256 roundId) external;

    /// @notice Mints the caller's share of the verifier rewards of finalized rounds `roundIds`.
    /// @return amount AOAI minted.
    function claimVerifierRewards(uint256[] calldata roundIds) external returns (uint256 amount);

    /// @notice Marks slot `slot` of round `roundId` challenged. Only DISPUTES_ROLE.
    /// @return trainer The accused trainer.
    function onUpdateChallenged(uint256 roundId, uint8 slot) external returns (address trainer);

    /// @notice Settles a dispute on an update; `upheld` rejects it. Only DISPUTES_ROLE.
    /// @return rejectedNow Whether this dispute rejected the update (false if it already was).
    function onUpdateDisputeResolved(uint256 roundId, uint8 slot, bool upheld) external returns (bool rejectedNow);

    /// @notice Freezes the live proposal of round `roundId` under dispute. Only DISPUTES_ROLE.
    /// @return aggregator The accused aggregator.
    function onProposalChallenged(uint256 roundId) external returns (address aggregator);

    /// @notice Settles a dispute on the live proposal; `upheld` rejects it. Only DISPUTES_ROLE.
    function onProposalDisputeResolved(uint256 roundId, bool upheld) external;

    /// @notice The open round of job `jobId` (0 before the job starts).
    function currentRound(uint64 jobId) external view returns (uint256);

    /// @notice The job of round `roundId`.
    function jobOf(uint256 roundId) external view returns (uint64);

    /// @notice Parameters the rounds of job `jobId` use.
    function jobConfig(uint64 jobId) external view returns (JobConfig memory);

    /// @notice Round `roundId` with its phase and deadlines.
    function roundInfo(uint256 roundId) external view returns (RoundView memory);

    /// @notice The phase of round `roundId`.
    function phaseOf(uint256 roundId) external view returns (Phase);

    /// @notice Slots of round `roundId` a trainer can claim now (empty outside the commit phase).
    function openSlots(uint256 roundId) external view returns (uint8[] memory);

    /// @notice `trainer`'s claim in round `roundId`, and its task.
    function trainerState(uint256 roundId, address trainer) external view returns (TrainerView memory);

    /// @notice The task of `trainer` in round `roundId`: its data shard and its training seed.
    function taskOf(uint256 roundId, address trainer) external view returns (uint32 shard, bytes32 seed);

    /// @notice The seed verifiers use to choose spot-check trace segments of round `roundId`.
    function verificationSeed(uint256 roundId) external view returns (bytes32);

    /// @notice Attestations of the update in slot `slot` of round `roundId`.
    function attestationsOf(uint256 roundId, uint8 slot) external view returns (uint8);

    /// @notice Bitmap of the updates `verifier` attested in round `roundId` (cleared once rewarded).
    function attestedBy(uint256 roundId, address verifier) external view returns (uint256);

    /// @notice The live proposal of round `roundId`.
    function proposalOf(uint256 roundId) external view returns (ProposalView memory);

    /// @notice AOAI `verifier` can claim for round `roundId`.
    function pendingVerifierReward(uint256 roundId, address verifier) external view returns (uint256);

    /// @notice `account`'s scoreboard over all jobs.
    function scoreOf(address account) external view returns (Score memory);
}
