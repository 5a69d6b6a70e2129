// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Challenges of updates and aggregation proposals, judged by a randomly drawn panel of verifiers
/// @notice Errors, events and calls of {Disputes}.
interface IDisputes {
    /// @notice What is challenged.
    enum Kind {
        Update,
        Proposal
    }

    /// @notice Where a dispute stands. `Upheld`: the challenger was right, the accused is slashed.
    /// `Rejected`: the challenger was wrong and is slashed. `Dismissed`: no majority (or no panel); nobody is
    /// slashed but absent panel members, the bond is returned.
    enum Status {
        None,
        Pending,
        Upheld,
        Rejected,
        Dismissed
    }

    /// @notice One dispute as the views show it.
    struct DisputeView {
        Kind kind;
        Status status;
        uint64 roundId;
        uint64 jobId;
        uint8 slot;
        uint32 segment;
        address challenger;
        address accused;
        uint96 bond;
        uint64 anchorBlock;
        uint64 commitDeadline;
        uint64 revealDeadline;
        bool drawn;
        uint8 committed;
        uint8 revealed;
        uint8 upheldVotes;
        uint8 rejectedVotes;
        address[] panel;
    }

    /// @dev No dispute `disputeId`.
    error DisputesUnknownDispute(uint256 disputeId);
    /// @dev The bond sent, `given`, is not the job's challenge bond, `expected`.
    error DisputesWrongBond(uint256 expected, uint256 given);
    /// @dev `account` has `active` wei of active verifier stake; `required` are needed.
    error DisputesInsufficientStake(address account, uint256 active, uint256 required);
    /// @dev The challenger is the accused.
    error DisputesSelfChallenge(address account);
    /// @dev Dispute `disputeId` is not pending.
    error DisputesNotPending(uint256 disputeId);
    /// @dev The panel of dispute `disputeId` is already drawn.
    error DisputesPanelDrawn(uint256 disputeId);
    /// @dev The panel can only be drawn once block `anchorBlock` is in the past.
    error DisputesTooEarly(uint256 disputeId, uint64 anchorBlock);
    /// @dev The vote commit phase of dispute `disputeId` is over (or its panel is not drawn).
    error DisputesCommitClosed(uint256 disputeId);
    /// @dev The vote reveal phase of dispute `disputeId` is not open.
    error DisputesRevealClosed(uint256 disputeId);
    /// @dev `account` is not on the panel of dispute `disputeId`.
    error DisputesNotOnPanel(uint256 disputeId, address account);
    /// @dev `account` already committed a vote in dispute `disputeId`.
    error DisputesAlreadyVoted(uint256 disputeId, address account);
    /// @dev `account` has no committed vote to reveal in dispute `disputeId` (none, or already revealed).
    error DisputesNothingToReveal(uint256 disputeId, address account);
    /// @dev The revealed vote does not hash to the commitment.
    error DisputesBadVote(uint256 disputeId, address account);
    /// @dev Dispute `disputeId` cannot be resolved yet.
    error DisputesNotResolvable(uint256 disputeId);
    /// @dev A zero vote commitment.
    error DisputesZeroCommitment();

    /// @notice `challenger` challenged the update in slot `slot` of round `roundId` by `accused`, naming trace
    /// segment `segment`, with a bond of `bond` wei. The panel is drawn from the hash of block `anchorBlock`;
    /// votes are committed by `commitDeadline` and revealed by `revealDeadline`.
    event UpdateChallenged(
        uint256 indexed disputeId,
        uint64 indexed roundId,
        address indexed challenger,
        uint8 slot,
        address accused,
        uint32 segment,
        uint256 bond,
        uint64 anchorBlock,
        uint64 commitDeadline,
        uint64 revealDeadline
    );
    /// @notice `challenger` challenged the aggregation proposal of round `roundId` by `accused`; `segment`
    /// names what fails (0: the weights, i >= 1: metric i - 1).
    event ProposalChallenged(
        uint256 indexed disputeId,
        uint64 indexed roundId,
        address indexed challenger,
        address accused,
        uint32 segment,
        uint256 bond,
        uint64 anchorBlock,
        uint64 commitDeadline,
        uint64 revealDeadline
    );
    /// @notice The anchor block of dispute `disputeId` was too old to read; the panel will be drawn from block
    /// `anchorBlock` instead.
    event PanelReanchored(uint256 indexed disputeId, uint64 anchorBlock);
    /// @notice The panel of dispute `disputeId` was drawn from `seed`.
    event PanelDrawn(uint256 indexed disputeId, address[] panel, bytes32 seed);
    /// @notice `voter` committed a hidden vote.
    event VoteCommitted(uint256 indexed disputeId, address indexed voter, bytes32 commitment);
    /// @notice `voter` revealed its vote: `upheld` sides with the challenger.
    event VoteRevealed(uint256 indexed disputeId, address indexed voter, bool upheld);
    /// @notice Dispute `disputeId` ended with `status` by `upheldVotes` to `rejectedVotes`; `loser` lost
    /// `slashed` wei of stake (none if dismissed).
    event DisputeResolved(
        uint256 indexed disputeId,
        Status status,
        uint8 upheldVotes,
        uint8 rejectedVotes,
        address indexed loser,
        uint256 slashed
    );
    /// @notice Panel member `member` did not reveal a vote and lost `amount` wei of verifier stake.
    event PanelMemberPenalized(uint256 indexed disputeId, address indexed member, uint256 amount);

    /// @notice Challenges the revealed update in slot `slot` of round `roundId`, naming the failing trace
    /// segment. Needs the job's verifier stake active and exactly its challenge bond as `msg.value`; only
    /// during the round's challenge window.
    /// @return disputeId The new dispute's id.
    function challengeUpdate(uint256 roundId, uint8 slot, uint32 segment)
        external
        payable
        returns (uint256 disputeId);

    /// @notice Challenges the live aggregation proposal of round `roundId` during its window; `segment` names
    /// what fails (0: the weights, i >= 1: metric i - 1). Same stake and bond as {challengeUpdate}.
    /// @return disputeId The new dispute's id.
    function challengeProposal(uint256 roundId, uint32 segment) external payable returns (uint256 disputeId);

    /// @notice Draws the panel of dispute `disputeId` from the hash of its anchor block (one block after the
    /// challenge), or re-anchors if that block is too old to read. Anyone may call, once the anchor block is
    /// past and before the vote commit deadline.
    function drawPanel(uint256 disputeId) external;

    /// @notice Commits the caller's hidden vote, `keccak256(abi.encode(disputeId, upheld, salt, voter))`.
    /// Only panel members, once, before the commit deadline.
    function commitVote(uint256 disputeId, bytes32 commitment) external;

    /// @notice Reveals the caller's vote once every member committed or the commit deadline passed, and
    /// before the reveal deadline.
    function revealVote(uint256 disputeId, bool upheld, bytes32 salt) external;

    /// @notice Settles dispute `disputeId` by majority of revealed votes: slashes the loser (part to the
    /// winner), returns or forfeits the bond, penalizes absent panel members, and tells the rounds. Anyone
    /// may call once every committed vote is revealed or the reveal deadline passed (or, without a panel,
    /// once the commit deadline passed).
    function resolve(uint256 disputeId) external;

    /// @notice Dispute `disputeId`.
    function dispute(uint256 disputeId) external view returns (DisputeView memory);

    /// @notice Number of disputes opened (the last dispute id).
    function disputeCount() external view returns (uint256);

    /// @notice Random pool positions tried per panel seat before the draw falls back to a walk.
    function drawAttemptsPerSeat() external pure returns (uint256);

    /// @notice Most pool members the fallback walk visits for seats the random tries left empty, so a
    /// draw's gas is bounded whatever the pool.
    function drawScanLimit() external pure returns (uint256);
}
