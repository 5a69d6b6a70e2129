// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBilling} from "../interfaces/IBilling.sol";

/// @notice Test double of a hostile billing user: when paid its withdrawal, it tries to withdraw again.
contract ReentrantWithdrawer {
    IBilling private immutable _billing;
    bool private _reentered;

    constructor(IBilling billing) {
        _billing = billing;
    }

    /// @notice Deposits `msg.value` wei of credit and asks to withdraw all of it.
    function depositAndRequest() external payable {
        _billing.deposit{value: msg.value}();
        _billing.requestWithdrawal(msg.value);
    }

    /// @notice Withdraws; the payment re-enters `withdraw` once.
    function attack() external {
        _billing.withdraw();
    }

    receive() external payable {
        if (_reentered) return;
        _reentered = true;
        _billing.withdraw();
    }
}
