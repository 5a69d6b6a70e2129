// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IStakeManager} from "../interfaces/IStakeManager.sol";

/// @notice Test double of a hostile staker: when paid a withdrawal or a payout, it calls the stake manager
/// again (withdraw, claimPayout) and records whether that second call went through.
contract ReentrantStaker {
    IStakeManager private immutable _stakes;
    bool public reentered;
    bool public reentrySucceeded;
    uint256 public received;

    constructor(IStakeManager stakes) {
        _stakes = stakes;
    }

    /// @notice Stakes `msg.value` as a trainer.
    function stake() external payable {
        _stakes.stake{value: msg.value}(IStakeManager.Role.Trainer);
    }

    /// @notice Moves `amount` of its trainer stake to unbonding.
    function unbond(uint256 amount) external {
        _stakes.requestUnbond(IStakeManager.Role.Trainer, amount);
    }

    /// @notice Withdraws its unbonded trainer stake; the payment re-enters once.
    function withdraw() external {
        _stakes.withdraw(IStakeManager.Role.Trainer);
    }

    /// @notice Claims its payout credits; the payment re-enters once.
    function claimPayout() external {
        _stakes.claimPayout();
    }

    receive() external payable {
        received += msg.value;
        if (reentered) return;
        reentered = true;
        (bool withdrew,) =
            address(_stakes).call(abi.encodeCall(IStakeManager.withdraw, (IStakeManager.Role.Trainer)));
        (bool claimed,) = address(_stakes).call(abi.encodeCall(IStakeManager.claimPayout, ()));
        reentrySucceeded = withdrew || claimed;
    }
}
