// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAOAIToken} from "../interfaces/IAOAIToken.sol";

/// @notice Test double of a hostile holder: when paid its dividends, it tries to claim again.
contract ReentrantClaimer {
    IAOAIToken private immutable _token;
    bool private _reentered;

    constructor(IAOAIToken token) {
        _token = token;
    }

    /// @notice Claims its dividends; the payment re-enters `claimDividends` once.
    function attack() external {
        _token.claimDividends();
    }

    receive() external payable {
        if (_reentered) return;
        _reentered = true;
        _token.claimDividends();
    }
}
