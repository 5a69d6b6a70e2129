"""Flower's side of ``bench/round_overhead.py``, run under ``.venv-flower``: our job, round by round.

``python bench/flower_rounds.py simulation|loop JOB.json`` prints ``{"rounds": [...]}`` as JSON.

- ``simulation``: Flower's Simulation Engine (``flwr.simulation.run_simulation``, Ray backend, one CPU
  per client, so two clients train at a time on two cores): a ``ServerApp`` with ``FedAvg`` and a
  centralised test-set evaluation after every round. A round runs from ``configure_fit`` to the end of
  that evaluation; the engine's start-up (Ray, the actors) precedes round 1.
- ``loop``: ``NumPyClient.fit`` and ``FedAvg.aggregate_fit`` driven in one process, the clients one after
  another: no engine, no transport, no process start-up; a lower bound of any Flower deployment.

Either way the clients train exactly what our trainers trained: the same initial weights and, in each
round, the (shard, seed) pairs the chain's task seed assigned to our trainers, with the repository's
``train_locally`` under ``deterministic_torch``; FedAvg weights by shard size as our aggregator does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from flwr.client import ClientApp, NumPyClient  # noqa: E402
from flwr.common import (  # noqa: E402
    Code,
    Context,
    FitRes,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server import ServerApp, ServerAppComponents, ServerConfig  # noqa: E402
from flwr.server.strategy import FedAvg  # noqa: E402

from agents.learning.evaluation import evaluate_state  # noqa: E402
from agents.learning.sharding import shard  # noqa: E402
from agents.learning.skills.registry import get_skill, initial_state  # noqa: E402
from agents.learning.training import deterministic_torch, train_locally  # noqa: E402

SKILL = get_skill("vision")
CONFIG = SKILL.default_config


@cache
def job() -> dict[str, Any]:
    return json.loads(Path(os.environ["AOAI_FLOWER_JOB"]).read_text())


@cache
def splits() -> Any:
    return SKILL.load_data()


@cache
def names() -> list[str]:
    return list(initial_state(SKILL, CONFIG, job()["init_seed"]))


def to_state(arrays: list[np.ndarray]) -> dict[str, torch.Tensor]:
    return {n: torch.from_numpy(np.array(a)) for n, a in zip(names(), arrays, strict=True)}


class Client(NumPyClient):
    """Client ``index`` trains, in round r, the (shard, seed) our trainer ``index`` had in round r."""

    def __init__(self, index: int) -> None:
        self.index = index

    def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
        torch.set_num_threads(1)
        shard_index, seed = job()["tasks"][int(config["round"]) - 1][self.index]
        data = shard(splits().train, job()["shard_count"], shard_index, job()["shard_seed"], None)
        hp = SKILL.default_hyperparams.with_(**job()["hyperparams"])
        with deterministic_torch():
            result = train_locally(SKILL, CONFIG, to_state(parameters), data, int(seed), hp)
        return [result.state[n].numpy() for n in names()], len(data), {}


def accuracy(parameters: list[np.ndarray]) -> float:
    return evaluate_state(SKILL, CONFIG, to_state(parameters), splits().test)["accuracy"]


def initial_parameters() -> Any:
    state = initial_state(SKILL, CONFIG, job()["init_seed"])
    return ndarrays_to_parameters([state[n].numpy() for n in names()])


def simulation() -> list[dict[str, Any]]:
    from flwr.simulation import run_simulation

    clients = len(job()["tasks"][0])
    began: dict[int, float] = {}
    rounds: list[dict[str, Any]] = []

    failed: list[str] = []

    class TimedFedAvg(FedAvg):
        def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
            began[server_round] = time.perf_counter()
            return super().configure_fit(server_round, parameters, client_manager)

        def aggregate_fit(self, server_round: int, results: list, failures: list) -> Any:
            if failures or len(results) != clients:
                failed.append(f"round {server_round}: {len(results)} fits, failures {failures}")
            return super().aggregate_fit(server_round, results, failures)

    def evaluate(server_round: int, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
        if server_round > 0:  # round 0 evaluates the initial weights, before any round began
            acc = accuracy(parameters)
            wall = time.perf_counter() - began[server_round]
            rounds.append({"round": server_round, "wall_s": wall, "accuracy": acc})
        return 0.0, {}

    def server_fn(context: Context) -> ServerAppComponents:
        strategy = TimedFedAvg(
            fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=clients, min_evaluate_clients=0,
            min_available_clients=clients, initial_parameters=initial_parameters(),
            on_fit_config_fn=lambda r: {"round": r}, evaluate_fn=evaluate,
        )  # fmt: skip
        return ServerAppComponents(strategy=strategy, config=ServerConfig(num_rounds=len(job()["tasks"])))

    def client_fn(context: Context) -> Any:
        return Client(int(context.node_config["partition-id"])).to_client()

    run_simulation(
        server_app=ServerApp(server_fn=server_fn),
        client_app=ClientApp(client_fn=client_fn),
        num_supernodes=clients,
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
    )
    if failed or len(rounds) != len(job()["tasks"]):
        sys.exit(f"the simulation did not run every fit: {failed or rounds}")
    return rounds


def loop() -> list[dict[str, Any]]:
    strategy = FedAvg()
    parameters = initial_parameters()
    rounds = []
    for number, tasks in enumerate(job()["tasks"], start=1):
        began = time.perf_counter()
        fits = []
        for index in range(len(tasks)):
            arrays, n, metrics = Client(index).fit(parameters_to_ndarrays(parameters), {"round": number})
            fits.append((None, FitRes(Status(Code.OK, ""), ndarrays_to_parameters(arrays), n, metrics)))
        aggregated, _ = strategy.aggregate_fit(number, fits, [])
        assert aggregated is not None
        parameters = aggregated
        acc = accuracy(parameters_to_ndarrays(parameters))
        rounds.append({"round": number, "wall_s": time.perf_counter() - began, "accuracy": acc})
    return rounds


def main(mode: str, path: str) -> None:
    os.environ["AOAI_FLOWER_JOB"] = str(Path(path).resolve())
    # Ray's workers import this module by name to run the clients: they need the repository on their path.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    runs = {"simulation": simulation, "loop": loop}
    print(json.dumps({"rounds": runs[mode]()}))


if __name__ == "__main__":
    from bench import flower_rounds  # the clients must live in an importable module, not __main__

    flower_rounds.main(*sys.argv[1:3])
