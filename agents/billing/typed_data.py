"""EIP-712 typed data for the billing messages: hashing, signing and fast signer recovery.

The structs here have static fields only (address, uint256, bytes32), so their EIP-712 encoding is the
concatenation of 32-byte words, computed directly instead of through eth-account's generic encoder (about
a hundred times slower). The tests check every digest against eth-account's `encode_typed_data` and against
the contract's own `hashVoucher`.

Recovery uses libsecp256k1 through coincurve when it is installed (about 0.05 ms per signature), else
eth-keys' pure-Python backend (about 20 ms): a gateway needs coincurve. Recovered signers are memoized
(a gateway checks each voucher when the request arrives and again before journaling it), and so are
address conversions, which eth-utils makes cost more than the recovery itself (about 0.05 ms each).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from typing import Any

from eth_keys import KeyAPI
from eth_keys.exceptions import BadSignature
from eth_utils import to_canonical_address, to_checksum_address

try:
    from sha3 import keccak_256  # safe-pysha3: about 1 µs a hash, eth-hash's pycryptodome backend 6 µs
except ImportError:  # requirements.lock installs it; without it, only slower
    from eth_hash.auto import keccak as _eth_hash_keccak

    def keccak(data: bytes) -> bytes:
        """keccak-256 (Ethereum's, not NIST SHA3-256)."""
        return _eth_hash_keccak(data)

else:

    def keccak(data: bytes) -> bytes:
        """keccak-256 (Ethereum's, not NIST SHA3-256)."""
        return bytes(keccak_256(data).digest())


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
_KEYS = KeyAPI()
_WORD = 32
_STATIC_TYPES = frozenset({"address", "uint256", "bytes32"})
_DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


@lru_cache(maxsize=4096)
def checksum_address(address: str | bytes) -> str:
    """`eth_utils.to_checksum_address`, memoized: a gateway sees the same addresses on every request."""
    return to_checksum_address(address)


@lru_cache(maxsize=4096)
def canonical_address(address: str | bytes) -> bytes:
    """`eth_utils.to_canonical_address` (the 20 bytes), memoized."""
    return to_canonical_address(address)


class InvalidSignature(ValueError):
    """A signature that is malformed, malleable (high s) or does not recover to any key."""


@dataclass(frozen=True)
class Eip712Domain:
    """An EIP-712 domain of name, version, chain id and verifying contract, as OpenZeppelin's EIP712 has."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "verifying_contract", checksum_address(self.verifying_contract))

    @cached_property
    def separator(self) -> bytes:
        return keccak(
            _DOMAIN_TYPEHASH
            + keccak(self.name.encode())
            + keccak(self.version.encode())
            + self.chain_id.to_bytes(_WORD, "big")
            + to_canonical_address(self.verifying_contract).rjust(_WORD, b"\0")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }

    def digest(self, struct_hash: bytes) -> bytes:
        """The EIP-712 digest that is signed: keccak(0x1901 ‖ domain separator ‖ struct hash)."""
        return keccak(b"\x19\x01" + self.separator + struct_hash)


@dataclass(frozen=True)
class StructType:
    """An EIP-712 struct type whose fields are all static: `(abi type, name)` pairs in signing order."""

    name: str
    fields: tuple[tuple[str, str], ...]
    typehash: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for abi_type, _ in self.fields:
            if abi_type not in _STATIC_TYPES:
                raise ValueError(f"unsupported EIP-712 field type {abi_type!r}")
        encoded = f"{self.name}({','.join(f'{t} {n}' for t, n in self.fields)})"
        object.__setattr__(self, "typehash", keccak(encoded.encode()))

    def hash(self, values: Mapping[str, Any]) -> bytes:
        """hashStruct: keccak(typehash ‖ each field as a 32-byte word)."""
        words = [self.typehash]
        for abi_type, name in self.fields:
            words.append(_encode_word(abi_type, values[name]))
        return keccak(b"".join(words))

    def typed_data(self, domain: Eip712Domain, values: Mapping[str, Any]) -> dict[str, Any]:
        """The full EIP-712 JSON message, as eth-account's `encode_typed_data(full_message=...)` takes."""
        return {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                self.name: [{"name": n, "type": t} for t, n in self.fields],
            },
            "primaryType": self.name,
            "domain": domain.as_dict(),
            "message": {name: _json_value(abi_type, values[name]) for abi_type, name in self.fields},
        }


def _encode_word(abi_type: str, value: Any) -> bytes:
    if abi_type == "address":
        return canonical_address(value).rjust(_WORD, b"\0")
    if abi_type == "uint256":
        if not 0 <= value < 2**256:
            raise ValueError(f"uint256 out of range: {value}")
        return int(value).to_bytes(_WORD, "big")
    raw = bytes(value)
    if len(raw) != _WORD:
        raise ValueError(f"bytes32 needs 32 bytes, got {len(raw)}")
    return raw


def _json_value(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return checksum_address(value)
    if abi_type == "bytes32":
        return "0x" + bytes(value).hex()
    return int(value)


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed `digest` with a 65-byte `r ‖ s ‖ v` signature.

    Applies the same rules as OpenZeppelin's ECDSA.tryRecover and the ecrecover precompile: 65 bytes,
    v in {27, 28}, 0 < r < n, 0 < s <= n/2; so a signature accepted here is accepted on-chain.
    """
    return _recover_signer(bytes(digest), bytes(signature))


@lru_cache(maxsize=4096)
def _recover_signer(digest: bytes, signature: bytes) -> str:
    # A pure function of its arguments, so memoizing it is safe; InvalidSignature is never cached.
    if len(signature) != 65:
        raise InvalidSignature(f"signature must be 65 bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise InvalidSignature(f"signature v must be 27 or 28, got {v}")
    if not 0 < r < SECP256K1_N or not 0 < s <= _HALF_N:
        raise InvalidSignature("signature r or s out of range (high-s signatures are malleable)")
    return checksum_address(_recover_public_key(digest, signature[:64] + bytes([v - 27]))[-20:])


def _recover_with_coincurve(digest: bytes, rsv: bytes) -> bytes:
    """keccak of the uncompressed public key that signed `digest`, by libsecp256k1 (about 0.05 ms)."""
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(rsv, digest, hasher=None)
    except ValueError as exc:
        raise InvalidSignature(f"signature does not recover a key: {exc}") from exc
    return keccak(public_key.format(compressed=False)[1:])


def _recover_with_eth_keys(digest: bytes, rsv: bytes) -> bytes:
    """The same through eth-keys, whose pure-Python backend takes about 20 ms."""
    r, s, v = int.from_bytes(rsv[:32], "big"), int.from_bytes(rsv[32:64], "big"), rsv[64]
    try:
        public_key = _KEYS.Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(digest)
    except BadSignature as exc:
        raise InvalidSignature(f"signature does not recover a key: {exc}") from exc
    return keccak(public_key.to_bytes())


try:
    import coincurve
except ImportError:  # correct without libsecp256k1, only slow
    _recover_public_key = _recover_with_eth_keys
else:
    _recover_public_key = _recover_with_coincurve


def sign_struct(signer: Any, domain: Eip712Domain, struct: StructType, values: Mapping[str, Any]) -> bytes:
    """Signs a struct with an eth-account LocalAccount or an ape account; returns the 65-byte signature.

    Ape accounts get an `eip712.EIP712Message`, so a keyfile or hardware account shows the user the domain
    and the fields before signing. The result is checked against our own digest either way, so a signature
    returned here is one the contract accepts.
    """
    digest = domain.digest(struct.hash(values))
    unsafe_sign_hash = getattr(signer, "unsafe_sign_hash", None)
    if unsafe_sign_hash is not None:  # eth_account.signers.local.LocalAccount
        signature = bytes(unsafe_sign_hash(digest).signature)
    else:
        signature = _sign_with_ape(signer, domain, struct, values)
    address = checksum_address(signer.address)
    if recover_signer(digest, signature) != address:
        raise InvalidSignature(f"{address} returned a signature that does not match the {struct.name} digest")
    return signature


def _sign_with_ape(signer: Any, domain: Eip712Domain, struct: StructType, values: Mapping[str, Any]) -> bytes:
    message = ape_message(domain, struct, values)
    result = signer.sign_message(message)
    if result is None:
        raise InvalidSignature(f"{signer.address} declined to sign the {struct.name}")
    return bytes(result.encode_rsv())


@cache
def _ape_message_class(struct: StructType) -> Any:
    from eip712.messages import EIP712Message
    from eth_pydantic_types import abi
    from pydantic import create_model

    annotations = {"address": abi.address, "uint256": abi.uint256, "bytes32": abi.bytes32}
    fields: dict[str, Any] = {name: (annotations[abi_type], ...) for abi_type, name in struct.fields}
    return create_model(struct.name, __base__=EIP712Message, **fields)


def ape_message(domain: Eip712Domain, struct: StructType, values: Mapping[str, Any]) -> Any:
    """`values` as an instance of an `eip712.EIP712Message` subclass named after the struct."""
    from eip712.messages import EIP712Domain

    model = _ape_message_class(struct)
    ape_domain = EIP712Domain(
        name=domain.name,
        version=domain.version,
        chainId=domain.chain_id,
        verifyingContract=domain.verifying_contract,  # type: ignore[arg-type]  # validated by pydantic
    )
    message_values = {name: _json_value(abi_type, values[name]) for abi_type, name in struct.fields}
    return model(eip712_domain=ape_domain, **message_values)
