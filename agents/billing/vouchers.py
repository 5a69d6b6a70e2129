"""Billing vouchers: what a user signs so a gateway can take a cumulative amount of its credit.

The typed data is exactly the contract's (`contracts/Billing.sol`):
`Voucher(address user,address gateway,uint256 cumulativeAmount)` in the domain
`("ActuallyOpenAI Billing", "1", chainId, billing address)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.billing.typed_data import (
    Eip712Domain,
    InvalidSignature,
    StructType,
    checksum_address,
    recover_signer,
    sign_struct,
)

BILLING_DOMAIN_NAME = "ActuallyOpenAI Billing"
BILLING_DOMAIN_VERSION = "1"

VOUCHER_TYPE = StructType(
    "Voucher",
    (("address", "user"), ("address", "gateway"), ("uint256", "cumulativeAmount")),
)


def billing_domain(chain_id: int, billing_address: str) -> Eip712Domain:
    """The EIP-712 domain of the Billing contract at `billing_address` on `chain_id`."""
    return Eip712Domain(BILLING_DOMAIN_NAME, BILLING_DOMAIN_VERSION, chain_id, billing_address)


def billing_domain_of(billing: Any) -> Eip712Domain:
    """The domain a deployed Billing contract (an ape contract instance) reports through ERC-5267."""
    _fields, name, version, chain_id, verifying_contract, _salt, _extensions = billing.eip712Domain()
    return Eip712Domain(name, version, chain_id, verifying_contract)


@dataclass(frozen=True)
class Voucher:
    """`gateway` may take up to `cumulative_amount` wei of `user`'s credit, in total over all requests."""

    user: str
    gateway: str
    cumulative_amount: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "user", checksum_address(self.user))
        object.__setattr__(self, "gateway", checksum_address(self.gateway))
        if not 0 <= self.cumulative_amount < 2**256:
            raise ValueError(f"cumulative amount out of range: {self.cumulative_amount}")

    def values(self) -> dict[str, Any]:
        return {"user": self.user, "gateway": self.gateway, "cumulativeAmount": self.cumulative_amount}

    def struct_hash(self) -> bytes:
        return VOUCHER_TYPE.hash(self.values())

    def digest(self, domain: Eip712Domain) -> bytes:
        """The EIP-712 digest the user signs; equal to the contract's `hashVoucher`."""
        return domain.digest(self.struct_hash())

    def typed_data(self, domain: Eip712Domain) -> dict[str, Any]:
        """The full EIP-712 message, for wallets that sign JSON typed data (`eth_signTypedData_v4`)."""
        return VOUCHER_TYPE.typed_data(domain, self.values())

    def as_tuple(self) -> tuple[str, str, int]:
        """The voucher as the contract's `Voucher` struct argument."""
        return (self.user, self.gateway, self.cumulative_amount)


@dataclass(frozen=True)
class SignedVoucher:
    voucher: Voucher
    signature: bytes

    def signer(self, domain: Eip712Domain) -> str:
        """The address that signed; raises InvalidSignature if the signature is malformed."""
        return recover_signer(self.voucher.digest(domain), self.signature)

    def is_valid(self, domain: Eip712Domain) -> bool:
        """True if the voucher's own user signed it, under the same rules as the contract."""
        try:
            return self.signer(domain) == self.voucher.user
        except InvalidSignature:
            return False


def sign_voucher(signer: Any, domain: Eip712Domain, gateway: str, cumulative_amount: int) -> SignedVoucher:
    """Signs a voucher from `signer` (an ape account or an eth-account LocalAccount) for `gateway`."""
    voucher = Voucher(user=signer.address, gateway=gateway, cumulative_amount=cumulative_amount)
    return SignedVoucher(voucher, sign_struct(signer, domain, VOUCHER_TYPE, voucher.values()))


def verify_voucher(domain: Eip712Domain, signed: SignedVoucher) -> None:
    """Raises InvalidSignature unless `signed.voucher.user` signed the voucher in `domain`."""
    signer = signed.signer(domain)
    if signer != signed.voucher.user:
        raise InvalidSignature(f"voucher for {signed.voucher.user} was signed by {signer}")
