"""Fixtures of the gateway tests: a real anvil and IPFS daemon, the contracts deployed on them (Billing
included), and a "vision" job driven through the real contracts to two finalized generations:

1. weights trained for a few seconds with the learning core, uploaded to IPFS, with their real metrics;
2. a generation whose recorded hash does not match the bytes at its CID (and claims a better accuracy).

Everything is session-scoped: the chain is shared, so tests measure what they change as differences.
"""

import importlib.util
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from ape import networks
from ape_isolation import (  # noqa: F401 (fixtures)
    _class_isolation,
    _module_isolation,
    _package_isolation,
    _session_isolation,
)
from eth_utils import keccak
from gateway_helpers import PRICE

from agents.deployments import save_deployment
from agents.devnet.services import Anvil, IpfsDaemon
from agents.gateway.catalog import METRIC_SCALE
from agents.learning.codec import encode_state
from agents.learning.evaluation import evaluate_state
from agents.learning.hyperparams import HyperParams
from agents.learning.skills.registry import get_skill, initial_state
from agents.learning.training import train_locally
from agents.learning.weightstore import WeightStore

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "protocol"))

from protocol_helpers import AGGREGATOR, ETHER, TRAINER, VERIFIER, Flow, bits, spec_tuple  # noqa: E402

NOTICE = 3_600


# The chain is anvil, shared by the gateway processes: no ape snapshots (they would roll back what the
# gateway processes sent).
@pytest.fixture
def _function_isolation():
    yield


@pytest.fixture(scope="session")
def aoai_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("aoai-home")
    previous = os.environ.get("AOAI_HOME")
    os.environ["AOAI_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("AOAI_HOME", None)
    else:
        os.environ["AOAI_HOME"] = previous


@pytest.fixture(autouse=True)
def _pinned_home(aoai_home, monkeypatch):
    """AOAI_HOME is this suite's for each test: another suite's session fixtures in the same worker
    (tests/agents) may have pointed it elsewhere since."""
    monkeypatch.setenv("AOAI_HOME", str(aoai_home))


@pytest.fixture(scope="session")
def services():
    anvil, ipfs = Anvil(), IpfsDaemon()
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s.start(), (anvil, ipfs)))
        yield SimpleNamespace(anvil=anvil, ipfs=ipfs)
    finally:
        ipfs.stop()
        anvil.stop()


@pytest.fixture(scope="session")
def node(services):
    """ape connected to the anvil node for the whole session (ape-foundry's provider, attached to it: it
    can move time and mine)."""
    choice = networks.parse_network_choice(
        "ethereum:local:foundry", provider_settings={"host": services.anvil.url}
    )
    with choice as provider:
        yield provider


@pytest.fixture(scope="session")
def actors(node, accounts):
    return SimpleNamespace(
        admin=accounts[0],
        trainers=[accounts[1], accounts[2]],
        verifier=accounts[3],
        aggregator=accounts[4],
        users=[accounts[5], accounts[6]],
        gateway=accounts[7],
        late_user=accounts[8],
        outsider=accounts[9],
    )


@pytest.fixture(scope="session")
def protocol(node, project, actors, aoai_home):
    """Every contract, deployed by scripts/deploy.py (Billing's GATEWAY_ROLE to the gateway)."""
    path = ROOT / "scripts" / "deploy.py"
    spec = importlib.util.spec_from_file_location("aoai_deploy_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    admin = actors.admin
    contracts = module.deploy_protocol(admin, 7 * 24 * 3600, 5_000, NOTICE, (actors.gateway,))
    billing = contracts["Billing"]
    save_deployment(
        node.chain_manager.chain_id,
        {"chain_id": node.chain_manager.chain_id, "contracts": {n: c.address for n, c in contracts.items()}},
    )
    return SimpleNamespace(
        contracts=contracts,
        token=contracts["AOAIToken"],
        stakes=contracts["StakeManager"],
        models=contracts["ModelRegistry"],
        jobs=contracts["JobRegistry"],
        rounds=contracts["TrainingRounds"],
        disputes=contracts["Disputes"],
        billing=billing,
    )


@pytest.fixture(scope="session")
def store(services):
    return WeightStore(services.ipfs.api_multiaddr)


def _metrics(skill, config, state, data):
    measured = evaluate_state(skill, config, state, data)
    return [round(measured[name] * METRIC_SCALE) for name in skill.reported_metrics]


@pytest.fixture(scope="session")
def vision(node, chain, protocol, actors, store):
    """The vision job with generation 1 trained for real and generation 2 failing its hash check."""
    skill = get_skill("vision")
    config = dict(skill.default_config)
    splits = skill.load_data()
    genesis = initial_state(skill, config, seed=1)
    genesis_blob = store.put(encode_state(genesis))
    hp = HyperParams(local_steps=300, batch_size=64, lr=0.1, momentum=0.9, checkpoint_every=300)
    trained = train_locally(skill, config, genesis, splits.train, seed=7, hp=hp).state
    trained_bytes = encode_state(trained)
    trained_blob = store.put(trained_bytes)

    p, a = protocol, actors
    for trainer in a.trainers:
        p.stakes.stake(TRAINER, sender=trainer, value=2 * ETHER)
    p.stakes.stake(VERIFIER, sender=a.verifier, value=2 * ETHER)
    p.stakes.stake(AGGREGATOR, sender=a.aggregator, value=4 * ETHER)
    spec = spec_tuple(
        architectureId=keccak(text="vision"),
        configHash=bytes.fromhex(skill.config_hash(config)),
        initialWeightsCID=genesis_blob.cid,
        initialWeightsHash=genesis_blob.keccak256,
        minSlots=2,
        maxSlots=2,
    )
    p.jobs.createJob(spec, sender=a.admin)
    job_id = p.jobs.jobCount()
    p.rounds.startJob(job_id, sender=a.admin)
    flow = Flow(chain, p, [a.verifier], a.aggregator)

    def finalize(cid, weights_hash, metrics, tag):
        round_id = p.rounds.currentRound(job_id)
        updates = flow.commit(round_id, a.trainers, tag)
        flow.close_commits(round_id)
        flow.reveal(round_id, updates)
        slots = bits(*(u.slot for u in updates))
        flow.attest(round_id, slots)
        p.rounds.propose(round_id, cid, weights_hash, metrics, slots, sender=a.aggregator)
        flow.finalize(round_id, (cid, weights_hash, metrics))

    metrics = _metrics(skill, config, trained, splits.validation)
    finalize(trained_blob.cid, trained_blob.keccak256, metrics, "trained")
    # Generation 2: real bytes at the CID, but the hash recorded on chain is of other bytes.
    corrupt = store.put(trained_bytes + b" ")
    # It claims a perfect accuracy and half the loss, so "best" must try it first and refuse it.
    claimed = {"accuracy": METRIC_SCALE, "loss": metrics[skill.reported_metrics.index("loss")] // 2}
    finalize(corrupt.cid, keccak(b"other weights"), [claimed[m] for m in skill.reported_metrics], "corrupt")
    assert p.models.generationCount(job_id) == 3
    return SimpleNamespace(
        job_id=job_id,
        skill=skill,
        config=config,
        trained=trained,
        trained_cid=trained_blob.cid,
        metrics=metrics,
        test=splits.test,
    )


@pytest.fixture(scope="session")
def holders(protocol, actors, vision):
    """The AOAI holders after the two rounds: both trainers and the aggregator."""
    holders = [*actors.trainers, actors.aggregator]
    assert sum(protocol.token.balanceOf(h) for h in holders) == protocol.token.totalSupply()
    return holders


@pytest.fixture(scope="session")
def make_gateway(protocol, actors, services, vision, tmp_path_factory):
    """Builds an in-process gateway (settling as `actors.gateway`) with `settings`; use its app in a
    fastapi TestClient, whose context runs startup (catalogue, settlement worker) and shutdown (settle)."""
    from agents.gateway.app import create_app
    from agents.gateway.runtime import build_gateway
    from agents.gateway.service import GatewaySettings

    def make(manage_lifecycle=True, **settings):
        settings = {"default_price": PRICE, "settle_interval": 3600.0, "poll_interval": 0.2, **settings}
        gateway = build_gateway(
            actors.gateway,
            protocol.contracts,
            services.ipfs.api_multiaddr,
            tmp_path_factory.mktemp("gateway"),
            GatewaySettings(**settings),
        )
        return gateway, create_app(gateway, manage_lifecycle=manage_lifecycle)

    return make
