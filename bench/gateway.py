"""Gateway overhead: signed, paid requests on loopback against the same inference called in-process.

    .venv/bin/python -m bench.gateway

Starts anvil and IPFS, deploys the contracts and Billing, creates a "vision" job (its genesis weights are
servable), runs `aoai serve api` as its own uvicorn process, and sends classification requests from
users who each sign their requests in order (signing happens before the clock starts: it is the caller's
cost, not the gateway's). Sequential requests give the latency the gateway adds over in-process
inference (target: at most 2 ms at the median); concurrent users give throughput. The gateway's own
histograms split its time into signature checks and inference.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import torch

from bench.common import Target, report

ETHER = 10**18
PRICE = 10**12
SEQUENTIAL = 400
CONCURRENT_USERS = 4
CONCURRENT_PER_USER = 150
REFERENCE_CALLS = 2_000
TIME_BUDGET = 120.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def deploy(admin: Any, gateway: Any, store: Any) -> tuple[dict[str, Any], Any, int]:
    """Protocol contracts, Billing, and a vision job whose genesis weights are on IPFS."""
    import importlib.util

    from ape import chain
    from eth_utils import keccak

    from agents.deployments import PROJECT_ROOT, save_deployment
    from agents.learning.codec import encode_state
    from agents.learning.skills.registry import get_skill, initial_state

    spec = importlib.util.spec_from_file_location("aoai_deploy", PROJECT_ROOT / "scripts" / "deploy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    contracts = module.deploy_protocol(admin, gateways=(gateway,))
    save_deployment(chain.chain_id, {"contracts": {n: c.address for n, c in contracts.items()}})

    skill = get_skill("vision")
    state = initial_state(skill, skill.default_config, seed=3)
    blob = store.put(encode_state(state))
    create_job = importlib.util.spec_from_file_location(
        "aoai_create_job", PROJECT_ROOT / "scripts" / "create_job.py"
    )
    assert create_job is not None and create_job.loader is not None
    jobs_module = importlib.util.module_from_spec(create_job)
    create_job.loader.exec_module(jobs_module)
    overrides = {
        "architectureId": "0x" + keccak(text="vision").hex(),
        "configHash": "0x" + skill.config_hash(),
        "initialWeightsCID": blob.cid,
        "initialWeightsHash": "0x" + blob.keccak256.hex(),
    }
    contracts["JobRegistry"].createJob(jobs_module.spec_from(overrides), sender=admin)
    return contracts, state, int(contracts["JobRegistry"].jobCount())


def presign(
    client: Any, job_id: int, images: list[list[float]], count: int
) -> list[tuple[bytes, dict[str, str]]]:
    import json

    requests = []
    for i in range(count):
        body = json.dumps({"pixels": images[i % len(images)]}, separators=(",", ":")).encode()
        requests.append((body, client.authorize(body, job_id, PRICE)))
    return requests


def send_all(
    url: str, route: str, requests: list[tuple[bytes, dict[str, str]]], deadline: float
) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url, timeout=30.0, transport=no_delay_transport()) as http:
        for body, headers in requests:
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            response = http.post(route, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"gateway answered {response.status_code}: {response.text}")
    return latencies


def no_delay_transport() -> httpx.HTTPTransport:
    from agents.gateway.client import NO_DELAY

    return httpx.HTTPTransport(socket_options=NO_DELAY)


def histogram_mean(metrics: str, name: str) -> float:
    total = sum(float(v) for v in re.findall(rf"^{name}_sum(?:{{[^}}]*}})? (\S+)$", metrics, re.MULTILINE))
    count = sum(float(v) for v in re.findall(rf"^{name}_count(?:{{[^}}]*}})? (\S+)$", metrics, re.MULTILINE))
    return total / count if count else 0.0


def main() -> None:
    import os

    from ape import accounts, networks

    from agents.devnet.services import Anvil, IpfsDaemon
    from agents.gateway.client import GatewayClient
    from agents.gateway.inference import classify
    from agents.gateway.process import GatewayProcess
    from agents.learning.skills.registry import get_skill, load_model
    from agents.learning.weightstore import WeightStore

    torch.set_num_threads(1)
    home = Path(tempfile.mkdtemp(prefix="aoai-bench-gateway-"))
    os.environ["AOAI_HOME"] = str(home)
    skill = get_skill("vision")
    test = skill.load_data().test
    images = (test.inputs[:64] * 16).round().tolist()

    with Anvil() as node, IpfsDaemon() as ipfs, networks.parse_network_choice(f"ethereum:local:{node.url}"):
        test_accounts = accounts.test_accounts
        admin, gateway_account = test_accounts[0], test_accounts[7]
        users = list(test_accounts[1 : 1 + CONCURRENT_USERS])
        contracts, state, job_id = deploy(admin, gateway_account, WeightStore(ipfs.api_multiaddr))
        billing = contracts["Billing"]
        for user in users:
            billing.deposit(sender=user, value=ETHER)

        # In-process reference: the same inference function on the same weights.
        model = load_model(skill, skill.default_config, state).eval()
        for image in images[:50]:
            classify(model, image)
        reference = []
        for i in range(REFERENCE_CALLS):
            started = time.perf_counter()
            classify(model, images[i % len(images)])
            reference.append(time.perf_counter() - started)

        server = GatewayProcess(
            home / "gateway",
            rpc=node.url,
            ipfs_api=ipfs.api_multiaddr,
            account="TEST::7",
            data_dir=home / "journal",
            options=["--price", str(PRICE), "--settle-every", "100000", "--settle-interval", "3600",
                     "--rate", "100000", "--burst", "100000"],
        )  # fmt: skip
        with server:
            clients = [GatewayClient.connect(server.url, user, billing=billing, ttl=300) for user in users]
            route = f"/v1/jobs/{job_id}/classify"
            sequential_requests = presign(clients[0], job_id, images, SEQUENTIAL)
            concurrent_requests = [presign(c, job_id, images, CONCURRENT_PER_USER) for c in clients]
            deadline = time.monotonic() + TIME_BUDGET
            send_all(server.url, route, sequential_requests[:20], deadline)  # warm-up
            sequential = send_all(server.url, route, sequential_requests[20:], deadline)
            started = time.perf_counter()
            with ThreadPoolExecutor(CONCURRENT_USERS) as pool:
                runs = list(pool.map(lambda r: send_all(server.url, route, r, deadline), concurrent_requests))
            elapsed = time.perf_counter() - started
            concurrent = [latency for run in runs for latency in run]
            metrics = httpx.get(f"{server.url}/metrics").text
        # Leaving `with server` sent SIGTERM: the gateway settled everything before exiting.
        settled = sum(int(billing.redeemed(u, gateway_account)) for u in users)
        signed = sum(c.cumulative_amount for c in clients)

    ms = 1_000.0
    reference_p50 = statistics.median(reference) * ms
    sequential_p50 = statistics.median(sequential) * ms
    request_mean = histogram_mean(metrics, "aoai_gateway_request_seconds")
    auth_mean = histogram_mean(metrics, "aoai_gateway_auth_seconds")
    inference_mean = histogram_mean(metrics, "aoai_gateway_inference_seconds")
    figures = {
        "in_process_inference_p50_ms": round(reference_p50, 3),
        "in_process_inference_p99_ms": round(percentile(reference, 0.99) * ms, 3),
        "sequential_requests": len(sequential),
        "sequential_p50_ms": round(sequential_p50, 3),
        "sequential_p99_ms": round(percentile(sequential, 0.99) * ms, 3),
        "gateway_overhead_p50_ms": round(sequential_p50 - reference_p50, 3),
        "concurrent_users": CONCURRENT_USERS,
        "concurrent_requests": len(concurrent),
        "concurrent_requests_per_s": round(len(concurrent) / elapsed, 1),
        "concurrent_p50_ms": round(statistics.median(concurrent) * ms, 3),
        "concurrent_p99_ms": round(percentile(concurrent, 0.99) * ms, 3),
        "server_time_per_request_mean_ms": round(request_mean * ms, 3),
        "signature_checks_share_of_server_time": round(auth_mean / request_mean, 3) if request_mean else 0.0,
        "inference_share_of_server_time": round(inference_mean / request_mean, 3) if request_mean else 0.0,
        "signature_checks_mean_ms": round(auth_mean * ms, 3),
        "inference_in_gateway_mean_ms": round(inference_mean * ms, 3),
        "wei_signed": signed,
        "wei_settled_at_shutdown": settled,
        "machine": "2 shared cores, loopback, gateway and client processes on the same cores",
    }
    targets = [
        Target(
            "gateway adds at p50, ms (over in-process inference)",
            figures["gateway_overhead_p50_ms"],
            "<=",
            2.0,
        ),
        Target("all signed wei settled at shutdown (1 = yes)", float(settled == signed), ">=", 1.0),
    ]
    report("gateway", figures, targets)


if __name__ == "__main__":
    main()
