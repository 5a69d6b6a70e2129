"""Gas per accepted update, all-in, on a real anvil, from transaction receipts.

For round sizes of 1, 10 and 50 updates, a job whose rounds offer exactly that many slots runs healthy
rounds on the fast path, once per way of submitting: `open` (the agents' default), every trainer claims
its slot and submits its update in one call; `sealed`, it claims and commits in one call and reveals
once every slot is taken. Then, as the agents do it (docs/protocol.md, change 13), the aggregator
proposes at once (an early proposal) and the `QUORUM` verifiers attest the proposal; they attest every
update in one call each, and the last of these, `attestAndFinalize`, settles the updates with the
proposal's quorum already there, so it finalizes: it mints the trainers' and the aggregator's rewards
and opens the next round; each verifier claims its shares of all the rounds in one call (rewards are
pulled, so claims batch), and that claim's gas is spread evenly over the rounds.
Every receipt's `gasUsed` is summed per round and divided by the number of accepted updates.

The first round of a job writes fresh storage (its slots, their commitments, each trainer's first claim
in the job); later rounds overwrite it. Both are reported: `first_round` and `steady_state` (mean of the
rounds after the first); the target applies to the steady state, the cost of a running job.
The floor is what recording one result hash costs at least: 21,000 + calldata of a selector and a hash
(36 non-zero bytes x 16) + one new storage slot (22,100).

    python bench/gas_protocol.py
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import statistics
from collections import defaultdict
from pathlib import Path

from ape import accounts, chain, networks
from eth_utils import keccak
from rich.console import Console
from rich.table import Table

from agents.chain.jobspec import DEFAULTS as JOB_SPEC_DEFAULTS
from agents.devnet.services import Anvil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "gas_protocol.json"
ETHER = 10**18
SIZES = (1, 10, 50)
ROUNDS = 4
QUORUM = 2
TARGET_SIZE, TARGET_GAS = 10, 200_000
FLOOR = 21_000 + 16 * 36 + 22_100
SALT = b"\x5a" * 32
PATHS = {"open": ("claimAndSubmit",), "sealed": ("claimAndCommit", "reveal")}
PHASES = (
    "claimAndSubmit",
    "claimAndCommit",
    "reveal",
    "propose",
    "attestProposal",
    "attest",
    "attestAndFinalize (finalizes)",
    "claimVerifierRewards",
)

SPEC = {
    **JOB_SPEC_DEFAULTS,
    "architectureId": keccak(text="bench"),
    "configHash": keccak(text="config"),
    "initialWeightsCID": "bafybeibenchgenesis",
    "initialWeightsHash": keccak(text="genesis"),
    "datasetManifestCID": "bafybeibenchmanifest",
    "hyperparamsHash": keccak(text="hyperparams"),
    "shardCount": 64,
    "aggregationRule": 1,
    "aggregatorStake": ETHER,
    "minSlots": 1,
    "maxSlots": 1,
    "attestationQuorum": QUORUM,
}


def load_deploy():
    loader = importlib.util.spec_from_file_location("aoai_deploy_script", ROOT / "scripts" / "deploy.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def commitment(cid: str, update_hash: bytes, trace_root: bytes, trainer: str) -> bytes:
    from eth_abi import encode

    return keccak(
        encode(
            ["string", "bytes32", "bytes32", "bytes32", "address"],
            [cid, update_hash, trace_root, SALT, trainer],
        )
    )


class Bench:
    def __init__(self, contracts, admin, trainers, verifiers, aggregator):
        self.c = contracts
        self.admin, self.trainers, self.verifiers, self.aggregator = admin, trainers, verifiers, aggregator

    def job(self, size: int) -> int:
        spec = {**SPEC, "minSlots": size, "maxSlots": size}
        receipt = self.c["JobRegistry"].createJob(tuple(spec.values()), sender=self.admin)
        job_id = receipt.events.filter(self.c["JobRegistry"].JobCreated)[0].jobId
        self.c["TrainingRounds"].startJob(job_id, sender=self.admin)
        return job_id

    def round(self, job_id: int, size: int, tag: str, sealed: bool) -> tuple[int, dict[str, int]]:
        """Runs one healthy round of `size` updates, sealed or in the open; returns the gas per kind of
        transaction."""
        rounds = self.c["TrainingRounds"]
        round_id = rounds.currentRound(job_id)
        gas: dict[str, int] = defaultdict(int)

        def send(kind, method, *args, sender):
            gas[kind] += method(*args, sender=sender).gas_used

        reveals = []
        for slot, trainer in enumerate(self.trainers[:size]):
            cid = f"bafybeiupdate{tag}{slot:04d}{'x' * 40}"
            update_hash, trace_root = keccak(text=f"u{tag}{slot}"), keccak(text=f"t{tag}{slot}")
            if not sealed:
                args = (round_id, slot, cid, update_hash, trace_root)
                send("claimAndSubmit", rounds.claimAndSubmit, *args, sender=trainer)
                continue
            digest = commitment(cid, update_hash, trace_root, trainer.address)
            send("claimAndCommit", rounds.claimAndCommit, round_id, slot, digest, sender=trainer)
            reveals.append((trainer, (round_id, slot, cid, update_hash, trace_root, SALT)))
        for trainer, revealed in reveals:
            send("reveal", rounds.reveal, *revealed, sender=trainer)
        # The verification seed is the hash of the last update's block: readable from the next block on.
        chain.provider.make_request("evm_mine", [])
        slots = (1 << size) - 1
        proposal = (f"bafybeigeneration{tag}{'y' * 40}", keccak(text=f"g{tag}"), [-1_234_567, 901_000])
        send("propose", rounds.propose, round_id, *proposal, slots, sender=self.aggregator)
        for verifier in self.verifiers:
            send("attestProposal", rounds.attestProposal, round_id, *proposal, sender=verifier)
        qualities = [1_000 + i for i in range(size)]
        *first, last = self.verifiers
        for verifier in first:
            send("attest", rounds.attest, round_id, slots, qualities, sender=verifier)
        kind = "attestAndFinalize (finalizes)"
        send(kind, rounds.attestAndFinalize, round_id, slots, qualities, *proposal, sender=last)
        return round_id, dict(gas)

    def claim(self, round_ids: list[int]) -> int:
        """Each verifier claims its rewards of `round_ids` in one call (pull payments batch); total gas."""
        rounds = self.c["TrainingRounds"]
        return sum(rounds.claimVerifierRewards(round_ids, sender=v).gas_used for v in self.verifiers)


def per_update(gas: dict[str, int], size: int) -> dict[str, float]:
    figures = {kind: gas.get(kind, 0) / size for kind in PHASES}
    figures["total"] = sum(gas.values()) / size
    return figures


def run() -> dict:
    deploy = load_deploy()
    with Anvil() as node, networks.parse_network_choice(f"ethereum:local:{node.url}"):
        admin = accounts.test_accounts[0]
        trainers = [accounts.test_accounts.generate_test_account() for _ in range(max(SIZES))]
        verifiers = list(accounts.test_accounts[1 : 1 + QUORUM])
        aggregator = accounts.test_accounts[1 + QUORUM]
        contracts = deploy.deploy_protocol(admin)
        stakes = contracts["StakeManager"]
        for trainer in trainers:
            admin.transfer(trainer, 2 * ETHER)
            stakes.stake(0, sender=trainer, value=ETHER)
        for verifier in verifiers:
            stakes.stake(1, sender=verifier, value=ETHER)
        stakes.stake(2, sender=aggregator, value=ETHER)
        bench = Bench(contracts, admin, trainers, verifiers, aggregator)
        results: dict[str, dict] = {path: {} for path in PATHS}
        for path, size in itertools.product(PATHS, SIZES):
            job_id = bench.job(size)
            played = [bench.round(job_id, size, f"{path}{size}r{r}", path == "sealed") for r in range(ROUNDS)]
            claimed = bench.claim([round_id for round_id, _ in played])
            for _, gas in played:
                gas["claimVerifierRewards"] = claimed // ROUNDS
            measured = [per_update(gas, size) for _, gas in played]
            steady = {k: statistics.mean(m[k] for m in measured[1:]) for k in measured[0]}
            results[path][str(size)] = {"first_round": measured[0], "steady_state": steady}
    return results


def report(results: dict) -> dict:
    console = Console(width=170)
    shown = {
        path: [k for k in PHASES if k not in PATHS["sealed" if path == "open" else "open"]] for path in PATHS
    }
    for path, by_size in results.items():
        table = Table(title=f"Gas per accepted update, {path} updates (anvil receipts, quorum {QUORUM})")
        table.add_column("updates/round", justify="right")
        table.add_column("round", justify="left")
        for kind in shown[path]:
            table.add_column(kind, justify="right")
        table.add_column("total", justify="right")
        table.add_column("x floor", justify="right")
        for size, rows in by_size.items():
            for which, row in rows.items():
                cells = [f"{row[k]:,.0f}" for k in shown[path]]
                table.add_row(size, which, *cells, f"{row['total']:,.0f}", f"{row['total'] / FLOOR:.2f}")
        console.print(table)
    steady = {p: {n: rows["steady_state"]["total"] for n, rows in r.items()} for p, r in results.items()}
    first = {p: {n: rows["first_round"]["total"] for n, rows in r.items()} for p, r in results.items()}
    for path, size in itertools.product(results, SIZES):
        steady_gas, first_gas = steady[path][str(size)], first[path][str(size)]
        console.print(
            f"{path:>6}, {size:>3} per round: steady {steady_gas:,.0f} gas = {steady_gas / FLOOR:.2f} x "
            f"floor; first round {first_gas:,.0f} = {first_gas / FLOOR:.2f} x floor"
        )
    console.print(
        f"open / sealed, {TARGET_SIZE} per round (steady): "
        f"{steady['open'][str(TARGET_SIZE)] / steady['sealed'][str(TARGET_SIZE)]:.3f}"
    )
    targets = []
    for path in PATHS:
        at_target = steady[path][str(TARGET_SIZE)]
        falling = all(steady[path][str(a)] >= steady[path][str(b)] for a, b in itertools.pairwise(SIZES))
        targets += [
            {
                "what": f"gas per accepted update, all-in, {path} updates, {TARGET_SIZE} updates per round "
                "(steady state)",
                "value": round(at_target),
                "target": f"<= {TARGET_GAS}",
                "met": at_target <= TARGET_GAS,
            },
            {
                "what": f"gas per accepted update flat or falling with round size (1, 10, 50; {path} "
                "updates, steady state): 50 per round over 10 per round",
                "value": round(steady[path]["50"] / steady[path][str(TARGET_SIZE)], 3),
                "target": "<= 1.0",
                "met": falling,
            },
        ]
    output = {
        "figures": {
            "floor_gas": FLOOR,
            "attestation_quorum": QUORUM,
            "gas_per_accepted_update": {p: {n: round(v) for n, v in s.items()} for p, s in steady.items()},
            "gas_per_accepted_update_first_round": {
                p: {n: round(v) for n, v in f.items()} for p, f in first.items()
            },
            "ratio_to_floor": {p: {n: round(v / FLOOR, 3) for n, v in s.items()} for p, s in steady.items()},
            "breakdown_per_update": {
                path: {
                    n: {
                        which: {k: round(row[k]) for k in (*shown[path], "total")}
                        for which, row in rows.items()
                    }
                    for n, rows in by_size.items()
                }
                for path, by_size in results.items()
            },
        },
        "targets": targets,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(output, indent=2) + "\n")
    console.print(f"written to {RESULTS.relative_to(ROOT)}")
    return output


if __name__ == "__main__":
    report(run())
