"""Vouchers signed in Python: the same typed data as the contract, accepted on-chain, checked off-chain."""

import ape
import pytest
from eth_account import Account
from eth_hash.auto import keccak

from agents.billing import typed_data
from agents.billing.typed_data import InvalidSignature, recover_signer
from agents.billing.vouchers import SignedVoucher, Voucher, sign_voucher, verify_voucher

ETHER = 10**18


def test_local_account_voucher_is_accepted_on_chain(billing, with_holder, domain, user, gateway):
    local = Account.from_key(user.private_key)
    signed = sign_voucher(local, domain, gateway.address, ETHER)
    assert signed.voucher == Voucher(user.address, gateway.address, ETHER)
    verify_voucher(domain, signed)
    billing.deposit(sender=user, value=2 * ETHER)
    billing.redeem(signed.voucher.as_tuple(), signed.signature, sender=gateway)
    assert billing.redeemed(user, gateway) == ETHER


def test_ape_and_local_accounts_sign_the_same_bytes(domain, user, gateway):
    """Deterministic ECDSA (RFC 6979): the same key and digest give the same signature by either path."""
    from_ape = sign_voucher(user, domain, gateway.address, 5)
    from_local = sign_voucher(Account.from_key(user.private_key), domain, gateway.address, 5)
    assert from_ape == from_local


def test_off_chain_verification_agrees_with_the_contract(billing, domain, users, gateway):
    alice, bob = users
    signed = sign_voucher(alice, domain, gateway.address, 3)
    assert signed.is_valid(domain)
    forged = SignedVoucher(Voucher(bob.address, gateway.address, 3), signed.signature)
    assert not forged.is_valid(domain)
    with pytest.raises(InvalidSignature, match=f"voucher for {bob.address} was signed by 0x"):
        verify_voucher(domain, forged)
    billing.deposit(sender=bob, value=3)
    with ape.reverts(billing.BillingInvalidSignature, index=0, user=bob):
        billing.redeem(forged.voucher.as_tuple(), forged.signature, sender=gateway)
    truncated = SignedVoucher(signed.voucher, signed.signature[:64])
    assert not truncated.is_valid(domain)


def test_off_chain_and_on_chain_accept_the_same_signatures(billing, domain, user, gateway):
    """For the valid signature and each malformed variant, `is_valid` says what the contract will do."""
    billing.deposit(sender=user, value=ETHER)
    signed = sign_voucher(user, domain, gateway.address, ETHER)
    sig = signed.signature
    s = int.from_bytes(sig[32:64], "big")
    variants = [
        sig,
        sig[:64] + bytes([55 - sig[64]]),
        sig[:64] + bytes([sig[64] - 27]),
        sig[:64] + b"\x1d",
        sig[:32] + (typed_data.SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]]),
        sig[:64],
        b"\x00" * 65,
        (typed_data.SECP256K1_N + 1).to_bytes(32, "big") + sig[32:],
    ]
    for variant in variants:
        candidate = SignedVoucher(signed.voucher, variant)
        try:
            billing.redeem.call(signed.voucher.as_tuple(), variant, sender=gateway)
            accepted_on_chain = True
        except ape.exceptions.ContractLogicError:
            accepted_on_chain = False
        assert candidate.is_valid(domain) == accepted_on_chain, variant.hex()
    assert SignedVoucher(signed.voucher, sig).is_valid(domain)


def test_both_recovery_backends_agree():
    digest = keccak(b"digest")
    for seed in range(5):
        account = Account.from_key(keccak(bytes([seed])))
        signature = bytes(account.unsafe_sign_hash(digest).signature)
        rsv = signature[:64] + bytes([signature[64] - 27])
        assert recover_signer(digest, signature) == account.address
        assert typed_data._recover_with_coincurve(digest, rsv) == typed_data._recover_with_eth_keys(
            digest, rsv
        )
    # r is not the x coordinate of any curve point: neither backend recovers a key.
    not_on_curve = (5).to_bytes(32, "big") + (1).to_bytes(32, "big") + b"\x00"
    for recover in (typed_data._recover_with_coincurve, typed_data._recover_with_eth_keys):
        with pytest.raises(InvalidSignature, match="does not recover a key"):
            recover(digest, not_on_curve)


def test_voucher_rejects_out_of_range_amounts(user, gateway):
    with pytest.raises(ValueError, match="out of range"):
        Voucher(user.address, gateway.address, -1)
    with pytest.raises(ValueError, match="out of range"):
        Voucher(user.address, gateway.address, 2**256)
