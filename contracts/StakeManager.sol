// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IAOAIToken} from "./interfaces/IAOAIToken.sol";
import {IStakeManager} from "./interfaces/IStakeManager.sol";

/// @title StakeManager
/// @notice Holds every wei the protocol holds: stakes of trainers, verifiers and aggregators, challenge
/// bonds, payouts owed to winners of disputes, and slashed ETH waiting for the sink (the AOAI token, where it
/// becomes dividends of the holders). A stake leaves only through unbonding (a delay during which it stays
/// slashable) or slashing, which only the protocol contracts (SLASHER_ROLE) can do.
/// @dev Payouts are pulled ({claimPayout}, {withdraw}) and guarded against re-entry; books in {totals} hold
/// the invariants stated in {IStakeManager-Totals}.
contract StakeManager is IStakeManager, AccessControl, ReentrancyGuard {
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");

    uint256 private constant _BPS = 10_000;

    uint64 private immutable _unbondingDelay;
    uint16 private immutable _rewardShareBps;
    address private immutable _sink;

    mapping(address account => mapping(Role role => StakeInfo)) private _stakes;
    mapping(address account => uint256) private _bonds;
    mapping(address account => uint256) private _credits;
    mapping(address account => uint256) private _slashed;
    mapping(Role role => address[]) private _pools;
    mapping(Role role => mapping(address account => uint256 positionPlusOne)) private _poolPositions;
    Totals private _totals;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE, which grants SLASHER_ROLE to the protocol contracts.
    /// @param sink_ The AOAI token: the part of slashed ETH that rewards nobody is paid to its holders.
    /// @param unbondingDelay_ Seconds between a request to unbond and the withdrawal. Jobs must fit every
    /// slashable act into this delay (the job registry checks it).
    /// @param rewardShareBps_ Share of a slash or forfeited bond credited to the winning side.
    constructor(address admin, address sink_, uint64 unbondingDelay_, uint16 rewardShareBps_) {
        if (rewardShareBps_ > _BPS) revert StakeManagerInvalidShare(rewardShareBps_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _sink = sink_;
        _unbondingDelay = unbondingDelay_;
        _rewardShareBps = rewardShareBps_;
    }

    /// @inheritdoc IStakeManager
    function stake(Role role) external payable {
        if (msg.value == 0) revert StakeManagerZeroAmount();
        StakeInfo storage info = _stakes[msg.sender][role];
        uint256 active = info.active + msg.value;
        if (active > type(uint96).max) revert StakeManagerStakeTooLarge(active);
        info.active = uint96(active);
        _totals.deposited += msg.value;
        _totals.active += msg.value;
        if (_poolPositions[role][msg.sender] == 0) {
            _pools[role].push(msg.sender);
            _poolPositions[role][msg.sender] = _pools[role].length;
        }
        emit Staked(msg.sender, role, msg.value, active);
    }

    /// @inheritdoc IStakeManager
    function requestUnbond(Role role, uint256 amount) external {
        if (amount == 0) revert StakeManagerZeroAmount();
        StakeInfo storage info = _stakes[msg.sender][role];
        uint256 active = info.active;
        if (amount > active) revert StakeManagerInsufficientStake(msg.sender, role, amount, active);
        uint64 releaseAt = uint64(block.timestamp) + _unbondingDelay;
        // Both fit in 96 bits: `amount <= active` and the two together never exceed what was staked.
        info.active = uint96(active - amount);
        info.unbonding += uint96(amount);
        info.releaseAt = releaseAt;
        _totals.active -= amount;
        _totals.unbonding += amount;
        if (active == amount) _leavePool(msg.sender, role);
        emit UnbondingRequested(msg.sender, role, amount, info.unbonding, releaseAt);
    }

    /// @inheritdoc IStakeManager
    function withdraw(Role role) external nonReentrant returns (uint256 amount) {
        StakeInfo storage info = _stakes[msg.sender][role];
        amount = info.unbonding;
        if (amount == 0) revert StakeManagerNothingUnbonding(msg.sender, role);
        if (block.timestamp < info.releaseAt) revert StakeManagerStillUnbonding(msg.sender, role, info.releaseAt);
        info.unbonding = 0;
        info.releaseAt = 0;
        _totals.unbonding -= amount;
        _totals.withdrawn += amount;
        emit Withdrawn(msg.sender, role, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IStakeManager
    function slash(address account, Role role, uint256 amount, address beneficiary)
        external
        onlyRole(SLASHER_ROLE)
        returns (uint256 slashed)
    {
        StakeInfo storage info = _stakes[account][role];
        uint256 active = info.active;
        uint256 unbonding = info.unbonding;
        uint256 fromActive = amount < active ? amount : active;
        uint256 rest = amount - fromActive;
        uint256 fromUnbonding = rest < unbonding ? rest : unbonding;
        slashed = fromActive + fromUnbonding;
        if (slashed == 0) return 0;
        // Both differences are non-negative by the `min` above.
        info.active = uint96(active - fromActive);
        info.unbonding = uint96(unbonding - fromUnbonding);
        _totals.active -= fromActive;
        _totals.unbonding -= fromUnbonding;
        _totals.slashed += slashed;
        _slashed[account] += slashed;
        if (active != 0 && fromActive == active) _leavePool(account, role);
        uint256 reward = _split(slashed, beneficiary);
        emit Slashed(account, role, slashed, beneficiary, reward);
    }

    /// @inheritdoc IStakeManager
    function lockBond(address account) external payable onlyRole(SLASHER_ROLE) {
        if (msg.value == 0) revert StakeManagerZeroAmount();
        _bonds[account] += msg.value;
        _totals.bonds += msg.value;
        _totals.bondsLocked += msg.value;
        emit BondLocked(account, msg.value);
    }

    /// @inheritdoc IStakeManager
    function returnBond(address account, uint256 amount) external onlyRole(SLASHER_ROLE) {
        _takeBond(account, amount);
        _totals.bondsReturned += amount;
        _credits[account] += amount;
        _totals.credits += amount;
        emit BondReturned(account, amount);
    }

    /// @inheritdoc IStakeManager
    function forfeitBond(address account, uint256 amount, address beneficiary) external onlyRole(SLASHER_ROLE) {
        _takeBond(account, amount);
        _totals.bondsForfeited += amount;
        uint256 reward = _split(amount, beneficiary);
        emit BondForfeited(account, amount, beneficiary, reward);
    }

    /// @inheritdoc IStakeManager
    function claimPayout() external nonReentrant returns (uint256 amount) {
        amount = _credits[msg.sender];
        if (amount == 0) revert StakeManagerNothingToClaim(msg.sender);
        _credits[msg.sender] = 0;
        _totals.credits -= amount;
        _totals.paidOut += amount;
        emit PayoutClaimed(msg.sender, amount);
        _send(msg.sender, amount);
    }

    /// @inheritdoc IStakeManager
    function flushSink() external nonReentrant returns (uint256 amount) {
        amount = _totals.sinkPending;
        if (amount == 0 || IAOAIToken(_sink).totalSupply() == 0) revert StakeManagerNothingToSink();
        _totals.sinkPending = 0;
        _totals.sunk += amount;
        emit SinkFlushed(_sink, amount);
        // The sink is the AOAI token fixed at construction, not a caller-chosen address; state is settled first.
        // slither-disable-next-line arbitrary-send-eth
        IAOAIToken(_sink).depositDividends{value: amount}();
    }

    /// @inheritdoc IStakeManager
    function stakeOf(address account, Role role) external view returns (StakeInfo memory) {
        return _stakes[account][role];
    }

    /// @inheritdoc IStakeManager
    function activeStakeOf(address account, Role role) external view returns (uint256) {
        return _stakes[account][role].active;
    }

    /// @inheritdoc IStakeManager
    function bondOf(address account) external view returns (uint256) {
        return _bonds[account];
    }

    /// @inheritdoc IStakeManager
    function creditOf(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @inheritdoc IStakeManager
    function slashedOf(address account) external view returns (uint256) {
        return _slashed[account];
    }

    /// @inheritdoc IStakeManager
    function totals() external view returns (Totals memory) {
        return _totals;
    }

    /// @inheritdoc IStakeManager
    function unbondingDelay() external view returns (uint64) {
        return _unbondingDelay;
    }

    /// @inheritdoc IStakeManager
    function rewardShareBps() external view returns (uint16) {
        return _rewardShareBps;
    }

    /// @inheritdoc IStakeManager
    function sink() external view returns (address) {
        return _sink;
    }

    /// @inheritdoc IStakeManager
    function poolSize(Role role) external view returns (uint256) {
        return _pools[role].length;
    }

    /// @inheritdoc IStakeManager
    function poolMember(Role role, uint256 index) external view returns (address) {
        return _pools[role][index];
    }

    /// @dev Credits the reward share of `amount` to `beneficiary` (nothing if it is zero) and the rest to the
    /// sink. Returns the reward.
    function _split(uint256 amount, address beneficiary) private returns (uint256 reward) {
        if (beneficiary != address(0)) {
            reward = (amount * _rewardShareBps) / _BPS;
            _credits[beneficiary] += reward;
            _totals.credits += reward;
        }
        _totals.sinkPending += amount - reward;
    }

    function _takeBond(address account, uint256 amount) private {
        uint256 held = _bonds[account];
        if (amount == 0) revert StakeManagerZeroAmount();
        if (amount > held) revert StakeManagerInsufficientBond(account, amount, held);
        _bonds[account] = held - amount;
        _totals.bonds -= amount;
    }

    /// @dev Swap-and-pop removal, so the pool stays dense and a draw is one index lookup.
    function _leavePool(address account, Role role) private {
        uint256 position = _poolPositions[role][account];
        if (position == 0) return;
        address[] storage pool = _pools[role];
        address last = pool[pool.length - 1];
        pool[position - 1] = last;
        _poolPositions[role][last] = position;
        pool.pop();
        delete _poolPositions[role][account];
    }

    /// @dev Pull payments only: every caller passes `msg.sender` and the amount booked to it, after
    /// clearing that booking (checks-effects-interactions, under `nonReentrant`).
    function _send(address to, uint256 amount) private {
        // slither-disable-next-line arbitrary-send-eth
        (bool sent,) = to.call{value: amount}("");
        if (!sent) revert StakeManagerPaymentFailed(to, amount);
    }
}
