// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IAOAIToken} from "./interfaces/IAOAIToken.sol";

/// @title AOAIToken
/// @notice ERC-20 with a 1e9 cap, minted only by the protocol for finalized work, that carries ETH
/// dividends: every deposit is shared pro rata to the balances at deposit time.
/// @dev Magnified dividend-per-share accounting (ERC-1726 / ERC-2222): an account's accumulated
/// dividends are `(perShare * balance + correction) / MAGNITUDE`. Every balance change passes through
/// `_update`, which moves the correction with the tokens, so a transfer carries future dividends and never
/// past ones, and a claim is O(1) whatever the number of holders or deposits. The remainder that a deposit's
/// division leaves is carried into the next deposit, so rounding loses at most one wei per holder per
/// claim, never a growing sum. No role can move deposited or unclaimed ETH: the only way out is a claim.
contract AOAIToken is IAOAIToken, ERC20Capped, AccessControl, ReentrancyGuardTransient {
    using SafeCast for uint256;

    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    uint256 private constant _MAX_SUPPLY = 1_000_000_000 ether;
    uint256 private constant _MAGNITUDE = 2 ** 128;

    /// @dev Both totals in one slot, so that a claim updates a slot already written by the first deposit.
    struct DividendTotals {
        uint128 deposited;
        uint128 withdrawn;
    }

    uint256 private _magnifiedDividendPerShare;
    uint256 private _magnifiedRemainder;
    DividendTotals private _totals;
    mapping(address account => int256) private _magnifiedCorrections;
    mapping(address account => uint256) private _withdrawn;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE, which can grant and revoke MINTER_ROLE and nothing else.
    constructor(address admin) ERC20("ActuallyOpenAI", "AOAI") ERC20Capped(_MAX_SUPPLY) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Plain ETH transfers are dividend deposits.
    receive() external payable {
        _deposit();
    }

    /// @inheritdoc IAOAIToken
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @inheritdoc IAOAIToken
    function depositDividends() external payable {
        _deposit();
    }

    /// @inheritdoc IAOAIToken
    function claimDividends() external nonReentrant returns (uint256 amount) {
        amount = withdrawableDividendsOf(msg.sender);
        if (amount == 0) revert AOAITokenNothingToClaim(msg.sender);
        _withdrawn[msg.sender] += amount;
        _totals.withdrawn += amount.toUint128();
        emit DividendsClaimed(msg.sender, amount);
        (bool sent,) = msg.sender.call{value: amount}("");
        if (!sent) revert AOAITokenPaymentFailed(msg.sender, amount);
    }

    /// @inheritdoc IAOAIToken
    function withdrawableDividendsOf(address account) public view returns (uint256) {
        return accumulativeDividendsOf(account) - _withdrawn[account];
    }

    /// @inheritdoc IAOAIToken
    function accumulativeDividendsOf(address account) public view returns (uint256) {
        int256 magnified = (_magnifiedDividendPerShare * balanceOf(account)).toInt256();
        return uint256(magnified + _magnifiedCorrections[account]) / _MAGNITUDE;
    }

    /// @inheritdoc IAOAIToken
    function withdrawnDividendsOf(address account) external view returns (uint256) {
        return _withdrawn[account];
    }

    /// @inheritdoc IAOAIToken
    function totalDividendsDeposited() external view returns (uint256) {
        return _totals.deposited;
    }

    /// @inheritdoc IAOAIToken
    function totalDividendsWithdrawn() external view returns (uint256) {
        return _totals.withdrawn;
    }

    /// @inheritdoc IAOAIToken
    function cap() public view override(ERC20Capped, IAOAIToken) returns (uint256) {
        return super.cap();
    }

    function _deposit() private {
        uint256 supply = totalSupply();
        if (supply == 0) revert AOAITokenNoSupply();
        if (msg.value == 0) revert AOAITokenZeroDeposit();
        uint256 magnified = msg.value * _MAGNITUDE + _magnifiedRemainder;
        _magnifiedDividendPerShare += magnified / supply;
        _magnifiedRemainder = magnified % supply;
        _totals.deposited += msg.value.toUint128();
        emit DividendsDeposited(msg.sender, msg.value);
    }

    /// @dev Moves the dividend correction with the tokens: the sender keeps, and the receiver does not get,
    /// what `value` tokens earned before now. Skipped while nothing was ever deposited (it would be zero).
    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        uint256 perShare = _magnifiedDividendPerShare;
        if (perShare == 0 || value == 0) return;
        int256 moved = (perShare * value).toInt256();
        if (from != address(0)) _magnifiedCorrections[from] += moved;
        if (to != address(0)) _magnifiedCorrections[to] -= moved;
    }
}
