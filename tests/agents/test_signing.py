"""Transactions signed with the account's key are the bytes ape's signer gives, and only its key signs."""

from __future__ import annotations

import pytest
from ape_ethereum.transactions import DynamicFeeTransaction
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.node.accounts import load_account, signing_key
from agents.node.sender import TransactionSigner

ACCOUNT = load_account("TEST::3")
SIGNER = TransactionSigner(signing_key(ACCOUNT), 31337, str(ACCOUNT.address))
UINT64 = st.integers(0, 2**64 - 1)


@settings(max_examples=60, deadline=None)
@given(
    nonce=UINT64, to=st.binary(min_size=20, max_size=20).filter(any), value=st.integers(0, 2**128),
    data=st.binary(max_size=300), gas=UINT64, max_fee=UINT64, tip=UINT64,
)  # fmt: skip
def test_signed_as_ape_signs(nonce, to, value, data, gas, max_fee, tip):
    """(To the zero address ape serializes a contract creation: agents never send there.)"""
    address, calldata = to_checksum_address(to), "0x" + data.hex()
    mine = SIGNER.sign(nonce, address, value, calldata, gas, max_fee, tip)
    txn = DynamicFeeTransaction(
        chainId=31337, nonce=nonce, to=address, value=value, data=calldata, gas=gas,
        maxFeePerGas=max_fee, maxPriorityFeePerGas=tip,
    )  # fmt: skip
    assert mine == "0x" + ACCOUNT.sign_transaction(txn).serialize_transaction().hex()
    assert Account.recover_transaction(mine) == ACCOUNT.address


def test_only_the_accounts_own_key_signs_for_it():
    with pytest.raises(ValueError, match="does not belong"):
        TransactionSigner(signing_key(load_account("TEST::4")), 31337, str(ACCOUNT.address))
