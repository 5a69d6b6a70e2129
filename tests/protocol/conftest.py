"""Fixtures of the protocol tests: the deployed and wired contracts, named actors, a default job, and a
`flow` helper that drives a round through its phases the way the agents do.

Session-scoped fixtures deploy once; ape isolates every test in a chain snapshot, so each test starts
from the same state.
"""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
from ape_isolation import (  # noqa: F401 (fixtures)
    _class_isolation,
    _module_isolation,
    _package_isolation,
    _session_isolation,
)
from protocol_helpers import (
    AGGREGATOR,
    ETHER,
    REWARD_SHARE_BPS,
    TRAINER,
    UNBONDING_DELAY,
    VERIFIER,
    Flow,
    bits,
    spec_tuple,
)


def _load_deploy_script():
    path = Path(__file__).resolve().parents[2] / "scripts" / "deploy.py"
    spec = importlib.util.spec_from_file_location("aoai_deploy_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Isolation. Ape's own isolation fixtures are replaced for these tests. On the in-process chain a restore
# re-executes the snapshot's block, and a block whose transactions read `blockhash`/`prevrandao` (every
# round opening does) does not re-execute identically, so the restore fails and state leaks into the next
# test. Here each test runs in a snapshot of a fresh empty block, mined after every higher-scoped fixture
# it uses was set up (pytest sets those up first), restored when the test ends.


@pytest.fixture
def _function_isolation(chain):
    chain.mine()
    snapshot = chain.provider.snapshot()
    yield
    chain.provider.restore(snapshot)


@pytest.fixture(scope="session")
def deploy_script():
    return _load_deploy_script()


@pytest.fixture(scope="session")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def trainers(accounts):
    return list(accounts[1:5])


@pytest.fixture(scope="session")
def verifiers(accounts):
    return list(accounts[5:9])


@pytest.fixture(scope="session")
def aggregator(accounts):
    return accounts[9]


@pytest.fixture(scope="session")
def extra_accounts(accounts, admin):
    """Four more funded accounts (for panels that need more verifiers, or a second aggregator)."""
    generated = [accounts.generate_test_account() for _ in range(4)]
    for account in generated:
        admin.transfer(account, 100 * ETHER)
    return generated


@pytest.fixture(scope="session")
def protocol(deploy_script, admin):
    contracts = deploy_script.deploy_protocol(admin, UNBONDING_DELAY, REWARD_SHARE_BPS)
    return SimpleNamespace(
        token=contracts["AOAIToken"],
        stakes=contracts["StakeManager"],
        models=contracts["ModelRegistry"],
        jobs=contracts["JobRegistry"],
        rounds=contracts["TrainingRounds"],
        disputes=contracts["Disputes"],
    )


@pytest.fixture(scope="session")
def token(protocol):
    return protocol.token


@pytest.fixture(scope="session")
def stakes(protocol):
    return protocol.stakes


@pytest.fixture(scope="session")
def models(protocol):
    return protocol.models


@pytest.fixture(scope="session")
def jobs(protocol):
    return protocol.jobs


@pytest.fixture(scope="session")
def rounds(protocol):
    return protocol.rounds


@pytest.fixture(scope="session")
def disputes(protocol):
    return protocol.disputes


@pytest.fixture(scope="session")
def staked(stakes, trainers, verifiers, aggregator):
    """Every trainer, verifier and the aggregator hold 2 ETH of active stake in their role."""
    for trainer in trainers:
        stakes.stake(TRAINER, sender=trainer, value=2 * ETHER)
    for verifier in verifiers:
        stakes.stake(VERIFIER, sender=verifier, value=2 * ETHER)
    stakes.stake(AGGREGATOR, sender=aggregator, value=4 * ETHER)
    return True


@pytest.fixture(scope="session")
def verifier_pool(stakes, staked, verifiers, extra_accounts):
    """Eight verifiers with 2 ETH of active stake each: a panel of three always fills from the seven
    verifiers other than a challenger."""
    for account in extra_accounts:
        stakes.stake(VERIFIER, sender=account, value=2 * ETHER)
    return list(verifiers) + list(extra_accounts)


@pytest.fixture(scope="session")
def create_job(jobs, rounds, admin):
    """Creates and starts a job from the default spec with `overrides`; returns (job_id, first round id)."""

    def create(**overrides):
        jobs.createJob(spec_tuple(**overrides), sender=admin)
        job_id = jobs.jobCount()
        rounds.startJob(job_id, sender=admin)
        return job_id, rounds.currentRound(job_id)

    return create


@pytest.fixture(scope="session")
def job(create_job, staked):
    """The default job, started, with every actor staked: (job_id, round_id)."""
    return create_job()


@pytest.fixture(scope="session")
def job_id(job):
    return job[0]


@pytest.fixture(scope="session")
def round_id(job):
    return job[1]


@pytest.fixture(scope="session")
def flow(chain, protocol, verifiers, aggregator):
    return Flow(chain, protocol, verifiers, aggregator)


@pytest.fixture
def attested(flow, round_id, trainers):
    """A round whose three updates (slots 0-2) are revealed and attested by verifier 0: aggregation is
    open."""
    updates = flow.commit(round_id, trainers[:3])
    flow.reveal(round_id, updates)
    flow.attest(round_id, bits(0, 1, 2))
    return updates


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e: end-to-end scenario, meant for anvil (--network ethereum:local:foundry)"
    )
