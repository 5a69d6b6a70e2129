// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IAOAIToken} from "./interfaces/IAOAIToken.sol";
import {IBilling} from "./interfaces/IBilling.sol";

/// @title Billing
/// @notice Prepaid ETH credit for the network's API. A user deposits credit and, for each request a gateway
/// serves, signs an EIP-712 voucher authorizing that gateway to take a cumulative amount of it. The gateway
/// redeems the latest voucher of each user in batches; the ETH goes to AOAI holders as dividends, less an
/// optional protocol fee that its treasury pulls.
/// @dev Guarantees:
/// - A gateway takes from a user at most the largest `cumulativeAmount` the user signed for that gateway
///   (`_redeemed[user][gateway]` only grows, by `cumulativeAmount - _redeemed`), and never more than the
///   user's credit: a voucher above the credit pays what is there and reports the shortfall, which the same
///   voucher can collect later. Vouchers are bound to this chain and contract by the EIP-712 domain, and an
///   old voucher pays nothing, so replay is harmless and settlement is idempotent.
/// - A user can always get its unspent credit back: `requestWithdrawal`, then `withdraw` after the notice
///   period. During the notice period gateways can still redeem the vouchers they hold against the whole
///   credit; after it, the requested amount is the user's alone.
/// - No role can move a user's credit: admins only grant GATEWAY_ROLE and set the fee, capped at
///   MAX_PROTOCOL_FEE_BPS.
/// - While no AOAI exists the token refuses dividends; the holders' revenue then waits here and the next
///   redeem or anyone's {flushRevenue} deposits it.
contract Billing is IBilling, AccessControl, EIP712, ReentrancyGuardTransient {
    using SafeCast for uint256;

    /// @notice Role of the API gateways allowed to redeem vouchers.
    bytes32 public constant GATEWAY_ROLE = keccak256("GATEWAY_ROLE");
    /// @notice EIP-712 type hash of {IBilling-Voucher}.
    bytes32 public constant VOUCHER_TYPEHASH =
        keccak256("Voucher(address user,address gateway,uint256 cumulativeAmount)");
    /// @notice The highest protocol fee, in basis points: 10%.
    uint256 public constant MAX_PROTOCOL_FEE_BPS = 1_000;
    /// @notice The longest notice period: users get their credit back within a month.
    uint256 public constant MAX_NOTICE_PERIOD = 30 days;

    uint256 private constant _BPS = 10_000;

    /// @dev One storage slot per user. uint112 holds 5e15 ether and uint96 7.9e10 ether, both far above all
    /// the ETH that exists; SafeCast guards the casts anyway.
    struct Account {
        uint112 credit;
        uint96 withdrawalAmount;
        uint48 unlocksAt;
    }

    IAOAIToken private immutable _token;
    uint256 private immutable _noticePeriod;

    mapping(address user => Account) private _accounts;
    mapping(address user => mapping(address gateway => uint256)) private _redeemed;
    mapping(address treasury => uint256) private _protocolFees;
    uint256 private _pendingRevenue;
    address private _treasury;
    uint16 private _feeBps;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE: grants GATEWAY_ROLE and sets the protocol fee.
    /// @param token_ The AOAI token whose holders receive the revenue.
    /// @param noticePeriod_ Seconds between a withdrawal request and the withdrawal, at most
    /// MAX_NOTICE_PERIOD; gateways must settle the vouchers they hold within it.
    constructor(address admin, IAOAIToken token_, uint256 noticePeriod_) EIP712("ActuallyOpenAI Billing", "1") {
        if (address(token_) == address(0)) revert BillingZeroToken();
        if (noticePeriod_ == 0 || noticePeriod_ > MAX_NOTICE_PERIOD) {
            revert BillingInvalidNoticePeriod(noticePeriod_, MAX_NOTICE_PERIOD);
        }
        _token = token_;
        _noticePeriod = noticePeriod_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IBilling
    function deposit() external payable {
        if (msg.value == 0) revert BillingZeroAmount();
        Account storage account = _accounts[msg.sender];
        uint256 credit = account.credit + msg.value;
        account.credit = credit.toUint112();
        emit CreditDeposited(msg.sender, msg.value, credit);
    }

    /// @inheritdoc IBilling
    function requestWithdrawal(uint256 amount) external returns (uint256 unlocksAt) {
        if (amount == 0) revert BillingZeroAmount();
        Account storage account = _accounts[msg.sender];
        uint256 credit = account.credit;
        if (amount > credit) revert BillingInsufficientCredit(msg.sender, credit, amount);
        unlocksAt = block.timestamp + _noticePeriod;
        account.withdrawalAmount = amount.toUint96();
        account.unlocksAt = unlocksAt.toUint48();
        emit WithdrawalRequested(msg.sender, amount, unlocksAt);
    }

    /// @inheritdoc IBilling
    function cancelWithdrawal() external {
        Account storage account = _accounts[msg.sender];
        if (account.withdrawalAmount == 0) revert BillingNoWithdrawalRequested(msg.sender);
        account.withdrawalAmount = 0;
        account.unlocksAt = 0;
        emit WithdrawalCancelled(msg.sender);
    }

    /// @inheritdoc IBilling
    function withdraw() external nonReentrant returns (uint256 amount) {
        Account storage account = _accounts[msg.sender];
        uint256 requested = account.withdrawalAmount;
        uint256 unlocksAt = account.unlocksAt;
        if (requested == 0) revert BillingNoWithdrawalRequested(msg.sender);
        if (block.timestamp < unlocksAt) revert BillingWithdrawalLocked(msg.sender, unlocksAt);
        uint256 credit = account.credit;
        amount = Math.min(requested, credit);
        // amount <= credit, which fits in uint112.
        account.credit = uint112(credit - amount);
        account.withdrawalAmount = 0;
        account.unlocksAt = 0;
        emit CreditWithdrawn(msg.sender, amount);
        if (amount != 0) _pay(msg.sender, amount);
    }

    /// @inheritdoc IBilling
    function redeem(Voucher calldata voucher, bytes calldata signature)
        external
        onlyRole(GATEWAY_ROLE)
        nonReentrant
        returns (uint256 amount)
    {
        amount = _redeem(0, voucher, signature);
        _distribute(amount);
    }

    /// @inheritdoc IBilling
    function redeemBatch(Voucher[] calldata vouchers, bytes[] calldata signatures)
        external
        onlyRole(GATEWAY_ROLE)
        nonReentrant
        returns (uint256 total)
    {
        uint256 count = vouchers.length;
        if (signatures.length != count) revert BillingLengthMismatch(count, signatures.length);
        for (uint256 i = 0; i < count; ++i) {
            total += _redeem(i, vouchers[i], signatures[i]);
        }
        _distribute(total);
    }

    /// @inheritdoc IBilling
    function flushRevenue() external nonReentrant returns (uint256 amount) {
        amount = _pendingRevenue;
        if (amount == 0) revert BillingNoPendingRevenue();
        if (_token.totalSupply() == 0) revert BillingNoHolders();
        _pendingRevenue = 0;
        emit RevenueDistributed(amount);
        _token.depositDividends{value: amount}();
    }

    /// @inheritdoc IBilling
    function setProtocolFee(address treasury, uint256 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeBps > MAX_PROTOCOL_FEE_BPS) revert BillingFeeTooHigh(feeBps, MAX_PROTOCOL_FEE_BPS);
        if (feeBps != 0 && treasury == address(0)) revert BillingZeroTreasury();
        _treasury = treasury;
        // feeBps <= MAX_PROTOCOL_FEE_BPS, which fits in uint16.
        _feeBps = uint16(feeBps);
        emit ProtocolFeeSet(treasury, feeBps);
    }

    /// @inheritdoc IBilling
    function claimProtocolFees() external nonReentrant returns (uint256 amount) {
        amount = _protocolFees[msg.sender];
        if (amount == 0) revert BillingNothingToClaim(msg.sender);
        _protocolFees[msg.sender] = 0;
        emit ProtocolFeeClaimed(msg.sender, amount);
        _pay(msg.sender, amount);
    }

    /// @inheritdoc IBilling
    function token() external view returns (IAOAIToken) {
        return _token;
    }

    /// @inheritdoc IBilling
    function noticePeriod() external view returns (uint256) {
        return _noticePeriod;
    }

    /// @inheritdoc IBilling
    function creditOf(address user) external view returns (uint256) {
        return _accounts[user].credit;
    }

    /// @inheritdoc IBilling
    function spendableCreditOf(address user) external view returns (uint256) {
        Account memory account = _accounts[user];
        return account.credit - Math.min(account.withdrawalAmount, account.credit);
    }

    /// @inheritdoc IBilling
    function redeemableCreditOf(address user) external view returns (uint256) {
        return _redeemableCredit(_accounts[user]);
    }

    /// @inheritdoc IBilling
    function withdrawalRequestOf(address user) external view returns (uint256 amount, uint256 unlocksAt) {
        Account memory account = _accounts[user];
        return (account.withdrawalAmount, account.unlocksAt);
    }

    /// @inheritdoc IBilling
    function redeemed(address user, address gateway) external view returns (uint256) {
        return _redeemed[user][gateway];
    }

    /// @inheritdoc IBilling
    function pendingRevenue() external view returns (uint256) {
        return _pendingRevenue;
    }

    /// @inheritdoc IBilling
    function protocolFee() external view returns (address treasury, uint256 feeBps) {
        return (_treasury, _feeBps);
    }

    /// @inheritdoc IBilling
    function protocolFeesOf(address treasury) external view returns (uint256) {
        return _protocolFees[treasury];
    }

    /// @inheritdoc IBilling
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32) {
        return _hashVoucher(voucher);
    }

    /// @dev Takes from the user's credit what `voucher` authorizes beyond what the caller already redeemed,
    /// up to the redeemable credit. A voucher that authorizes nothing new returns 0 before its signature is
    /// checked: it changes nothing.
    function _redeem(uint256 index, Voucher calldata voucher, bytes calldata signature)
        private
        returns (uint256 amount)
    {
        if (voucher.gateway != msg.sender) revert BillingWrongGateway(index, voucher.gateway);
        address user = voucher.user;
        uint256 cumulative = voucher.cumulativeAmount;
        uint256 already = _redeemed[user][msg.sender];
        if (cumulative <= already) return 0;

        // The third value only details `error`, which is checked below.
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(_hashVoucher(voucher), signature);
        if (error != ECDSA.RecoverError.NoError || signer != user) revert BillingInvalidSignature(index, user);

        Account storage account = _accounts[user];
        uint256 owed = cumulative - already;
        amount = Math.min(owed, _redeemableCredit(account));
        if (amount != 0) {
            _redeemed[user][msg.sender] = already + amount;
            // amount <= redeemable credit <= credit, which fits in uint112.
            account.credit -= uint112(amount);
        }
        emit VoucherRedeemed(user, msg.sender, cumulative, amount, owed - amount);
    }

    /// @dev Shares `amount` redeemed wei: the protocol fee to the current treasury, the rest (with any revenue
    /// kept earlier) to AOAI holders, or kept while no AOAI exists.
    function _distribute(uint256 amount) private {
        if (amount == 0) return;
        uint256 fee = (amount * _feeBps) / _BPS;
        if (fee != 0) {
            address treasury = _treasury;
            _protocolFees[treasury] += fee;
            emit ProtocolFeeAccrued(treasury, fee);
        }
        // fee <= amount / 10 so the holders' share is at least 1 wei.
        uint256 holdersShare = amount - fee;
        uint256 toHolders = holdersShare + _pendingRevenue;
        if (_token.totalSupply() == 0) {
            _pendingRevenue = toHolders;
            emit RevenueDeferred(holdersShare, toHolders);
            return;
        }
        if (toHolders != holdersShare) _pendingRevenue = 0;
        emit RevenueDistributed(toHolders);
        _token.depositDividends{value: toHolders}();
    }

    function _pay(address to, uint256 amount) private {
        (bool sent,) = to.call{value: amount}("");
        if (!sent) revert BillingPaymentFailed(to, amount);
    }

    function _redeemableCredit(Account storage account) private view returns (uint256) {
        uint256 credit = account.credit;
        uint256 reserved = account.withdrawalAmount;
        if (reserved == 0 || block.timestamp < account.unlocksAt) return credit;
        return credit - Math.min(reserved, credit);
    }

    function _hashVoucher(Voucher calldata voucher) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(VOUCHER_TYPEHASH, voucher.user, voucher.gateway, voucher.cumulativeAmount))
        );
    }
}
