// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The ETH vault of the protocol: stakes per role, unbonding, slashing, challenge bonds, pull payouts
/// @notice Errors, events and calls of {StakeManager}.
interface IStakeManager {
    /// @notice What a stake is for. One account may hold a separate stake for each role.
    enum Role {
        Trainer,
        Verifier,
        Aggregator
    }

    /// @notice One account's stake for one role, in wei.
    /// @param active Slashable and counted against a job's minimum stake.
    /// @param unbonding Slashable, no longer counted; withdrawable from `releaseAt` on.
    /// @param releaseAt Time from which `unbonding` can be withdrawn (0 if nothing is unbonding).
    struct StakeInfo {
        uint96 active;
        uint96 unbonding;
        uint64 releaseAt;
    }

    /// @notice The vault's books, in wei. Always:
    /// `deposited == withdrawn + slashed + active + unbonding` (every staked wei is still staked, was
    /// withdrawn, or was slashed); `bondsLocked == bonds + bondsReturned + bondsForfeited`;
    /// `slashed + bondsForfeited + bondsReturned == credits + paidOut + sinkPending + sunk` (every slashed,
    /// forfeited or returned wei went to a winner, a bond owner or the sink); and
    /// `address(vault).balance == active + unbonding + bonds + credits + sinkPending`.
    struct Totals {
        uint256 deposited;
        uint256 withdrawn;
        uint256 slashed;
        uint256 active;
        uint256 unbonding;
        uint256 bondsLocked;
        uint256 bonds;
        uint256 bondsReturned;
        uint256 bondsForfeited;
        uint256 credits;
        uint256 paidOut;
        uint256 sinkPending;
        uint256 sunk;
    }

    /// @dev A stake, bond or withdrawal of zero wei.
    error StakeManagerZeroAmount();
    /// @dev `account` asked to unbond `requested` wei of `role` stake but has only `active` active.
    error StakeManagerInsufficientStake(address account, Role role, uint256 requested, uint256 active);
    /// @dev Nothing of `role` stake is unbonding for `account`.
    error StakeManagerNothingUnbonding(address account, Role role);
    /// @dev The unbonding stake of `account` is locked until `releaseAt`.
    error StakeManagerStillUnbonding(address account, Role role, uint64 releaseAt);
    /// @dev `account` has no payout to claim.
    error StakeManagerNothingToClaim(address account);
    /// @dev `account` holds less than `amount` wei of challenge bonds.
    error StakeManagerInsufficientBond(address account, uint256 amount, uint256 held);
    /// @dev Sending `amount` wei to `to` failed; nothing was recorded as paid.
    error StakeManagerPaymentFailed(address to, uint256 amount);
    /// @dev The sink has nothing pending, or the token has no holders to receive dividends yet.
    error StakeManagerNothingToSink();
    /// @dev A share in basis points above 10,000.
    error StakeManagerInvalidShare(uint256 bps);
    /// @dev A stake that would not fit the 96-bit book (more than about 7.9e10 ETH).
    error StakeManagerStakeTooLarge(uint256 amount);

    /// @notice `account` added `amount` wei to its `role` stake, now `active` wei active.
    event Staked(address indexed account, Role indexed role, uint256 amount, uint256 active);
    /// @notice `account` moved `amount` wei of `role` stake to unbonding; all of its `unbonding` wei are
    /// withdrawable from `releaseAt`.
    event UnbondingRequested(
        address indexed account, Role indexed role, uint256 amount, uint256 unbonding, uint64 releaseAt
    );
    /// @notice `account` withdrew `amount` wei of unbonded `role` stake.
    event Withdrawn(address indexed account, Role indexed role, uint256 amount);
    /// @notice `amount` wei of the `role` stake of `account` were slashed (active first, then unbonding):
    /// `reward` wei credited to `beneficiary`, the rest to the sink.
    event Slashed(
        address indexed account, Role indexed role, uint256 amount, address indexed beneficiary, uint256 reward
    );
    /// @notice `account` deposited a challenge bond of `amount` wei.
    event BondLocked(address indexed account, uint256 amount);
    /// @notice A bond of `amount` wei of `account` was returned to it as a payout credit.
    event BondReturned(address indexed account, uint256 amount);
    /// @notice A bond of `amount` wei of `account` was forfeited: `reward` wei credited to `beneficiary`,
    /// the rest to the sink.
    event BondForfeited(address indexed account, uint256 amount, address indexed beneficiary, uint256 reward);
    /// @notice `account` was paid `amount` wei of credits (slash rewards and returned bonds).
    event PayoutClaimed(address indexed account, uint256 amount);
    /// @notice `amount` wei of slashed ETH were paid to the sink (the AOAI token, as holders' dividends).
    event SinkFlushed(address indexed sink, uint256 amount);

    /// @notice Adds `msg.value` wei to the caller's active stake for `role`.
    function stake(Role role) external payable;

    /// @notice Moves `amount` wei of the caller's active `role` stake to unbonding. It stays slashable and
    /// becomes withdrawable after the unbonding delay, which restarts for everything unbonding.
    function requestUnbond(Role role, uint256 amount) external;

    /// @notice Sends the caller all of its `role` stake whose unbonding delay has passed.
    /// @return amount The wei sent.
    function withdraw(Role role) external returns (uint256 amount);

    /// @notice Slashes up to `amount` wei of the `role` stake of `account`, active stake first, then stake
    /// still unbonding. Credits the reward share to `beneficiary` (none if zero) and the rest to the sink.
    /// Only SLASHER_ROLE.
    /// @return slashed The wei actually taken (less than `amount` if the stake was smaller).
    function slash(address account, Role role, uint256 amount, address beneficiary)
        external
        returns (uint256 slashed);

    /// @notice Holds `msg.value` wei as a challenge bond of `account`. Only SLASHER_ROLE.
    function lockBond(address account) external payable;

    /// @notice Returns `amount` wei of the bonds of `account` to it as a payout credit. Only SLASHER_ROLE.
    function returnBond(address account, uint256 amount) external;

    /// @notice Forfeits `amount` wei of the bonds of `account`: reward share to `beneficiary`, the rest to
    /// the sink. Only SLASHER_ROLE.
    function forfeitBond(address account, uint256 amount, address beneficiary) external;

    /// @notice Pays the caller all of its credits (slash rewards and returned bonds).
    /// @return amount The wei sent.
    function claimPayout() external returns (uint256 amount);

    /// @notice Pays all ETH pending for the sink into the AOAI token as dividends. Anyone may call.
    /// @return amount The wei sent.
    function flushSink() external returns (uint256 amount);

    /// @notice The stake of `account` for `role`.
    function stakeOf(address account, Role role) external view returns (StakeInfo memory);

    /// @notice The active (slashable and counted) stake of `account` for `role`, in wei.
    function activeStakeOf(address account, Role role) external view returns (uint256);

    /// @notice Challenge bonds `account` has locked, in wei.
    function bondOf(address account) external view returns (uint256);

    /// @notice Wei `account` can claim with {claimPayout}.
    function creditOf(address account) external view returns (uint256);

    /// @notice All wei ever slashed from `account`, over all roles.
    function slashedOf(address account) external view returns (uint256);

    /// @notice The vault's books.
    function totals() external view returns (Totals memory);

    /// @notice Delay between a request to unbond and the withdrawal, in seconds.
    function unbondingDelay() external view returns (uint64);

    /// @notice Share of every slash and forfeited bond that goes to the winning side, in basis points.
    function rewardShareBps() external view returns (uint16);

    /// @notice Where the rest of slashed ETH goes: the AOAI token, as dividends to its holders.
    function sink() external view returns (address);

    /// @notice Number of accounts with an active `role` stake (the pool panels are drawn from).
    function poolSize(Role role) external view returns (uint256);

    /// @notice The `index`-th account of the `role` pool (order changes as accounts leave).
    function poolMember(Role role, uint256 index) external view returns (address);
}
