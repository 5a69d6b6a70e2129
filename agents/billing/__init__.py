"""Billing: prepaid ETH credit for the API, EIP-712 vouchers and request signatures, on-chain settlement."""
