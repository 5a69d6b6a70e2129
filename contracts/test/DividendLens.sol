// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAOAIToken} from "../interfaces/IAOAIToken.sol";

/// @notice Test helper: reads the dividend state of many holders in one call.
contract DividendLens {
    /// @return accumulated Each holder's accumulated dividends.
    /// @return withdrawn Each holder's claimed dividends.
    /// @return held The token contract's ETH balance.
    function dividendsOf(IAOAIToken token, address[] calldata holders)
        external
        view
        returns (uint256[] memory accumulated, uint256[] memory withdrawn, uint256 held)
    {
        held = address(token).balance;
        accumulated = new uint256[](holders.length);
        withdrawn = new uint256[](holders.length);
        for (uint256 i = 0; i < holders.length; ++i) {
            accumulated[i] = token.accumulativeDividendsOf(holders[i]);
            withdrawn[i] = token.withdrawnDividendsOf(holders[i]);
        }
    }
}
