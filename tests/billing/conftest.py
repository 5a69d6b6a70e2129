"""Fixtures of the billing tests: a token with holders, a Billing contract, a gateway, users, vouchers."""

import pytest

from agents.billing.vouchers import billing_domain, sign_voucher

ETHER = 10**18
NOTICE = 3_600


@pytest.fixture(scope="session")
def gateway(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def users(accounts):
    return accounts[6:8]


@pytest.fixture(scope="session")
def user(users):
    return users[0]


@pytest.fixture(scope="session")
def treasury(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def deploy_billing(project, admin, minter, gateway):
    """Deploys an AOAIToken (MINTER_ROLE to `minter`) and a Billing (GATEWAY_ROLE to `gateway`)."""

    def deploy(notice=NOTICE):
        token = admin.deploy(project.AOAIToken, admin)
        token.grantRole(token.MINTER_ROLE(), minter, sender=admin)
        billing = admin.deploy(project.Billing, admin, token, notice)
        billing.grantRole(billing.GATEWAY_ROLE(), gateway, sender=admin)
        return token, billing

    return deploy


@pytest.fixture
def deployed(deploy_billing):
    return deploy_billing()


@pytest.fixture
def token(deployed):
    return deployed[0]


@pytest.fixture
def billing(deployed):
    return deployed[1]


@pytest.fixture
def with_holder(token, minter, holders):
    """One AOAI holder, so that revenue goes straight to dividends."""
    token.mint(holders[0], ETHER, sender=minter)
    return holders[0]


@pytest.fixture
def domain(chain, billing):
    return billing_domain(chain.chain_id, billing.address)


@pytest.fixture
def signed(domain, gateway):
    """Signs a voucher from `user` for `gateway` (or `to`) and returns the contract call arguments."""

    def sign(user, cumulative_amount, to=None):
        voucher = sign_voucher(user, domain, to or gateway.address, cumulative_amount)
        return voucher.voucher.as_tuple(), voucher.signature

    return sign
