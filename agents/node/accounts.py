"""The account an agent acts as, and secrets derived from it (commit-reveal salts) that survive restarts."""

from __future__ import annotations

import os
from typing import Any

import click
from eth_account.messages import encode_defunct
from eth_utils import is_hex_address, keccak

TEST_PREFIX = "TEST::"


def load_account(alias: str) -> Any:
    """An ape account: ``TEST::N`` is ape's (= anvil's) funded test account N, else a keystore alias, or
    the address of a keystore account (the seed's ``--wallet ADDRESS``).

    A keystore is unlocked with ``APE_ACCOUNTS_<alias>_PASSPHRASE`` and set to sign without prompts.
    """
    from ape import accounts
    from ape.exceptions import AccountsError

    if alias.startswith(TEST_PREFIX):
        try:
            return accounts.test_accounts[int(alias.removeprefix(TEST_PREFIX))]
        except (ValueError, IndexError) as error:
            raise click.ClickException(f"no test account {alias!r}: use TEST::0 .. TEST::9") from error
    if is_hex_address(alias):
        alias = _alias_of(alias)
    try:
        account = accounts.load(alias)
    except (AccountsError, IndexError, KeyError) as error:
        raise click.ClickException(f"no account {alias!r}: `ape accounts list` shows yours") from error
    variable = passphrase_variable(alias)
    passphrase = os.environ.get(variable)
    if passphrase is None:
        raise click.ClickException(f"set {variable} to unlock account {alias!r} for an unattended agent")
    try:
        account.set_autosign(True, passphrase=passphrase)
    except Exception as error:
        raise click.ClickException(f"cannot unlock account {alias!r}: {error}") from error
    return account


def passphrase_variable(alias: str) -> str:
    """The environment variable that unlocks keystore account ``alias``."""
    return f"APE_ACCOUNTS_{alias}_PASSPHRASE"


def signing_key(account: Any) -> bytes:
    """The 32-byte private key of an account from :func:`load_account`, for signing transactions directly
    (:class:`agents.node.sender.TransactionSigner`): ape's test accounts hold it; a keystore account's is
    decrypted with the passphrase that unlocked it."""
    if (key := getattr(account, "private_key", None)) is not None:
        return bytes.fromhex(str(key).removeprefix("0x"))
    from eth_account import Account

    variable = passphrase_variable(account.alias)
    if (passphrase := os.environ.get(variable)) is None:
        raise click.ClickException(f"set {variable} to unlock account {account.alias!r}")
    return bytes(Account.decrypt(account.keyfile, passphrase))


def _alias_of(address: str) -> str:
    """The keystore alias holding ``address``."""
    from ape import accounts

    for account in accounts.containers["accounts"].accounts:
        if account.address.lower() == address.lower():
            return str(account.alias)
    raise click.ClickException(f"no keystore account has address {address}: `ape accounts list` shows yours")


def derived_secret(account: Any, purpose: str) -> bytes:
    """keccak256 of the account's (deterministic, RFC 6979) signature over ``purpose``.

    Only the account can compute it, and it is the same after a restart or on another machine, so a
    restarted agent reveals exactly what it committed.
    """
    signature = account.sign_message(encode_defunct(text=purpose))
    return keccak(signature.encode_rsv())
