// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAOAIToken} from "./IAOAIToken.sol";

/// @title Billing: prepaid ETH credit for the network's API, settled with vouchers the users signed
/// @notice Errors, events and calls of {Billing}. Users deposit ETH credit; a gateway serves their requests
/// and collects EIP-712 vouchers that authorize a cumulative amount; the gateway redeems the latest voucher of
/// each user, and the ETH goes to AOAI holders as dividends (less an optional protocol fee).
interface IBilling {
    /// @notice What a user signs for a gateway: "`gateway` may take up to `cumulativeAmount` wei of my
    /// credit in total". Each new voucher for the same gateway replaces the previous one.
    /// @dev EIP-712 type `Voucher(address user,address gateway,uint256 cumulativeAmount)`, domain
    /// `("ActuallyOpenAI Billing", "1", chainId, address(this))`.
    struct Voucher {
        address user;
        address gateway;
        uint256 cumulativeAmount;
    }

    /// @dev A deposit, withdrawal request or claim of zero wei.
    error BillingZeroAmount();
    /// @dev `user` asked to withdraw `amount` wei but holds only `credit`.
    error BillingInsufficientCredit(address user, uint256 credit, uint256 amount);
    /// @dev `user` has no pending withdrawal request.
    error BillingNoWithdrawalRequested(address user);
    /// @dev `user`'s withdrawal cannot be made before `unlocksAt` (a unix time).
    error BillingWithdrawalLocked(address user, uint256 unlocksAt);
    /// @dev Sending `amount` wei to `to` failed; nothing was recorded as paid.
    error BillingPaymentFailed(address to, uint256 amount);
    /// @dev `redeemBatch` got `vouchers` vouchers and `signatures` signatures.
    error BillingLengthMismatch(uint256 vouchers, uint256 signatures);
    /// @dev The voucher at `index` names `gateway`, not the caller.
    error BillingWrongGateway(uint256 index, address gateway);
    /// @dev The signature at `index` is malformed or was not made by the voucher's `user`.
    error BillingInvalidSignature(uint256 index, address user);
    /// @dev A protocol fee of `feeBps` basis points is above the `maxBps` cap.
    error BillingFeeTooHigh(uint256 feeBps, uint256 maxBps);
    /// @dev A non-zero protocol fee needs a treasury.
    error BillingZeroTreasury();
    /// @dev The token is the zero address.
    error BillingZeroToken();
    /// @dev A notice period of zero (no time for gateways to settle) or above `max` seconds.
    error BillingInvalidNoticePeriod(uint256 noticePeriod, uint256 max);
    /// @dev `treasury` has no protocol fees to claim.
    error BillingNothingToClaim(address treasury);
    /// @dev `flushRevenue` was called while no revenue is pending.
    error BillingNoPendingRevenue();
    /// @dev Revenue cannot be distributed while no AOAI exists.
    error BillingNoHolders();

    /// @notice `user` deposited `amount` wei of credit and now holds `credit`.
    event CreditDeposited(address indexed user, uint256 amount, uint256 credit);
    /// @notice `user` asked to withdraw `amount` wei of credit, possible from `unlocksAt` (a unix time).
    /// Replaces any earlier request.
    event WithdrawalRequested(address indexed user, uint256 amount, uint256 unlocksAt);
    /// @notice `user` cancelled its pending withdrawal request.
    event WithdrawalCancelled(address indexed user);
    /// @notice `user` withdrew `amount` wei of credit.
    event CreditWithdrawn(address indexed user, uint256 amount);
    /// @notice `gateway` redeemed `user`'s voucher for `cumulativeAmount` and took `amount` wei of credit;
    /// `shortfall` wei of the voucher could not be paid because the user's credit ran out, and can be
    /// redeemed later with the same voucher if the user deposits again.
    event VoucherRedeemed(
        address indexed user, address indexed gateway, uint256 cumulativeAmount, uint256 amount, uint256 shortfall
    );
    /// @notice `amount` wei were deposited into the AOAI token as dividends for its holders.
    event RevenueDistributed(uint256 amount);
    /// @notice `amount` wei of holders' revenue are kept until AOAI exists; `pending` wei are now waiting.
    event RevenueDeferred(uint256 amount, uint256 pending);
    /// @notice `amount` wei of protocol fee accrued to `treasury`.
    event ProtocolFeeAccrued(address indexed treasury, uint256 amount);
    /// @notice From now on `feeBps` basis points of redeemed revenue accrue to `treasury`.
    event ProtocolFeeSet(address indexed treasury, uint256 feeBps);
    /// @notice `treasury` claimed `amount` wei of protocol fees.
    event ProtocolFeeClaimed(address indexed treasury, uint256 amount);

    /// @notice Adds `msg.value` wei to the caller's credit.
    function deposit() external payable;

    /// @notice Starts the notice period to withdraw `amount` wei of the caller's credit, replacing any earlier
    /// request. During the notice period gateways can still redeem vouchers against the whole credit; after
    /// it, the requested amount is reserved for the caller.
    /// @return unlocksAt The unix time from which {withdraw} pays.
    function requestWithdrawal(uint256 amount) external returns (uint256 unlocksAt);

    /// @notice Cancels the caller's pending withdrawal request.
    function cancelWithdrawal() external;

    /// @notice Pays the caller the amount of its withdrawal request, or its whole credit if vouchers
    /// redeemed during the notice period left less, and clears the request.
    /// @return amount The wei sent, possibly zero.
    function withdraw() external returns (uint256 amount);

    /// @notice Redeems one voucher; see {redeemBatch}.
    /// @return amount The wei taken from the user's credit.
    function redeem(Voucher calldata voucher, bytes calldata signature) external returns (uint256 amount);

    /// @notice Redeems vouchers that users signed for the caller, a GATEWAY_ROLE holder. Each voucher pays
    /// what it authorizes beyond what was already redeemed for the same (user, gateway), capped by the
    /// user's redeemable credit; a voucher that authorizes no more than was redeemed pays nothing, so
    /// replaying one is harmless. The ETH goes to AOAI holders as dividends, less the protocol fee, or waits
    /// for {flushRevenue} while no AOAI exists.
    /// @dev Reverts the whole batch on a voucher for another gateway or a bad signature: a gateway checks
    /// signatures off-chain before it serves a request.
    /// @return total The wei taken from users' credit.
    function redeemBatch(Voucher[] calldata vouchers, bytes[] calldata signatures) external returns (uint256 total);

    /// @notice Deposits the revenue kept while no AOAI existed into the token as dividends. Anyone can call.
    /// @return amount The wei deposited.
    function flushRevenue() external returns (uint256 amount);

    /// @notice Sets the share of future redeemed revenue, in basis points, that accrues to `treasury`.
    /// Only DEFAULT_ADMIN_ROLE; never above MAX_PROTOCOL_FEE_BPS. Fees accrued earlier stay with their
    /// treasury.
    function setProtocolFee(address treasury, uint256 feeBps) external;

    /// @notice Pays the caller the protocol fees accrued to it.
    /// @return amount The wei sent.
    function claimProtocolFees() external returns (uint256 amount);

    /// @notice The AOAI token that receives the revenue.
    function token() external view returns (IAOAIToken);

    /// @notice Seconds between a withdrawal request and the withdrawal.
    function noticePeriod() external view returns (uint256);

    /// @notice The unspent credit of `user`, in wei, including any amount reserved by a withdrawal request.
    function creditOf(address user) external view returns (uint256);

    /// @notice The credit that gateways may still accept new vouchers against: the credit less any amount
    /// requested for withdrawal.
    function spendableCreditOf(address user) external view returns (uint256);

    /// @notice The credit a redeem can take now: the whole credit during a notice period, the credit less the
    /// requested amount after it.
    function redeemableCreditOf(address user) external view returns (uint256);

    /// @notice The pending withdrawal request of `user`: `amount` wei from `unlocksAt`; (0, 0) if none.
    function withdrawalRequestOf(address user) external view returns (uint256 amount, uint256 unlocksAt);

    /// @notice What `gateway` has redeemed from `user`'s vouchers so far, in wei.
    function redeemed(address user, address gateway) external view returns (uint256);

    /// @notice Holders' revenue waiting for AOAI to exist, in wei.
    function pendingRevenue() external view returns (uint256);

    /// @notice The current protocol fee: `feeBps` basis points of redeemed revenue accrue to `treasury`.
    function protocolFee() external view returns (address treasury, uint256 feeBps);

    /// @notice Protocol fees accrued to `treasury` and not yet claimed, in wei.
    function protocolFeesOf(address treasury) external view returns (uint256);

    /// @notice The EIP-712 digest a user signs for `voucher`.
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32);
}
