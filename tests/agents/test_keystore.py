"""`--account` / `--wallet`: a keystore account by alias or by address, unlocked from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KEY = "0x" + "42" * 32
SCRIPT = """
import sys
import click
from ape_accounts.accounts import import_account_from_private_key
from eth_account.messages import encode_defunct
from agents.node.accounts import load_account, signing_key

imported = import_account_from_private_key("alice", "s3cret", sys.argv[1])
for name in ("alice", imported.address, imported.address.lower()):
    account = load_account(name)
    signature = account.sign_message(encode_defunct(text="hello"))  # no prompt: autosign is on
    assert account.check_signature(encode_defunct(text="hello"), signature)
    assert "0x" + signing_key(account).hex() == sys.argv[1]  # transactions are signed with the same key
    print("signed", name, account.address)
for name in ("bob", "0x" + "11" * 20, "TEST::99"):
    try:
        load_account(name)
    except click.ClickException as error:
        print("refused", name, error.message)
"""


def run(tmp_path: Path, script: str, passphrase: str | None) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh process whose ape keystore is ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PASSPHRASE")}
    if passphrase is not None:
        env["APE_ACCOUNTS_alice_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, "-c", script, KEY],
        env={**env, "APE_DATA_FOLDER": str(tmp_path)},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_keystore_account_by_alias_or_address(tmp_path):
    from eth_account import Account

    address = Account.from_key(KEY).address
    result = run(tmp_path, SCRIPT, "s3cret")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(f" {address}\n") == 3, result.stdout
    assert "refused bob no account 'bob'" in result.stdout
    assert f"refused 0x{'11' * 20} no keystore account has address" in result.stdout
    assert "refused TEST::99 no test account" in result.stdout


def test_keystore_account_needs_its_passphrase(tmp_path):
    result = run(tmp_path, SCRIPT.split("for name")[0] + "load_account('alice')", None)
    assert result.returncode != 0
    assert "set APE_ACCOUNTS_alice_PASSPHRASE to unlock account 'alice'" in result.stderr
