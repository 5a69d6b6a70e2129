// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title AOAI, the token that pays its holders the ETH the network's models earn
/// @notice Errors and events of {AOAIToken}, and the calls the protocol and the CLI make.
interface IAOAIToken is IERC20 {
    /// @dev ETH was deposited while no token exists: nobody could ever claim it.
    error AOAITokenNoSupply();
    /// @dev A deposit of zero wei.
    error AOAITokenZeroDeposit();
    /// @dev The caller has nothing to claim.
    error AOAITokenNothingToClaim(address account);
    /// @dev Sending ETH to the claimant failed; nothing was recorded as claimed.
    error AOAITokenPaymentFailed(address account, uint256 amount);

    /// @notice `amount` wei were deposited by `from` for all current holders, pro rata.
    event DividendsDeposited(address indexed from, uint256 amount);
    /// @notice `account` claimed `amount` wei of dividends.
    event DividendsClaimed(address indexed account, uint256 amount);

    /// @notice Mints `amount` to `to`. Only MINTER_ROLE; never past the cap.
    function mint(address to, uint256 amount) external;

    /// @notice Deposits `msg.value` wei as dividends for the current holders, pro rata to their balances.
    function depositDividends() external payable;

    /// @notice Pays the caller all its withdrawable dividends.
    /// @return amount The wei sent.
    function claimDividends() external returns (uint256 amount);

    /// @notice Dividends `account` can claim now, in wei.
    function withdrawableDividendsOf(address account) external view returns (uint256);

    /// @notice Dividends `account` has earned since it first held tokens, claimed or not, in wei.
    function accumulativeDividendsOf(address account) external view returns (uint256);

    /// @notice Dividends `account` has claimed, in wei.
    function withdrawnDividendsOf(address account) external view returns (uint256);

    /// @notice All ETH ever deposited as dividends, in wei.
    function totalDividendsDeposited() external view returns (uint256);

    /// @notice All ETH ever claimed as dividends, in wei.
    function totalDividendsWithdrawn() external view returns (uint256);

    /// @notice The most tokens that can ever exist.
    function cap() external view returns (uint256);
}
