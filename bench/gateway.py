"""Gateway overhead: signed, paid requests on loopback against the same inference called in-process.

    .venv/bin/python -m bench.gateway

Starts anvil and IPFS, deploys the contracts and Billing, creates a "vision" job (its genesis weights are
servable), runs `aoai serve api` as its own uvicorn process, and sends classification requests from
users who each sign their requests in order. Signing happens before the clock starts: it is the
caller's cost, reported apart (`client_signing_ms_per_request`). Requests go through a thin keep-alive
client (http.client, TCP_NODELAY) so that the figure is the gateway's, not a client library's.

- "gateway adds" = p50 of a signed request minus p50 of the same inference in-process (target: 2 ms);
- the HTTP floor = p50 of `GET /v1/gateway` (a constant answer): what any request pays for uvicorn,
  FastAPI and the loopback round trip between two processes;
- the gateway's own histograms, read before and after the sequential run, give the server time per
  request and its parts (signature checks, the voucher journal, inference);
- the same parts timed in this process (µs per call), less sensitive to a shared machine's load;
- four concurrent users give throughput.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import torch

from bench.common import Target, report

ETHER = 10**18
PRICE = 10**12
SEQUENTIAL = 1_000
FLOOR_CALLS = 1_000
CONCURRENT_USERS = 4
CONCURRENT_PER_USER = 150
REFERENCE_CALLS = 2_000
COMPONENT_CALLS = 1_000
TIME_BUDGET = 300.0
CLASSIFY_ROUTE = "/v1/jobs/{job}/classify"
MS = 1_000.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def p50_ms(values: list[float]) -> float:
    return round(statistics.median(values) * MS, 3)


def p99_ms(values: list[float]) -> float:
    return round(percentile(values, 0.99) * MS, 3)


def timed(call: Callable[[], object], count: int) -> list[float]:
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return durations


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


Request = tuple[str, str, bytes, dict[str, str]]
"""Method, path, body, headers."""


def presign(client: Any, job_id: int, images: list[list[float]], count: int) -> list[Request]:
    route = CLASSIFY_ROUTE.format(job=job_id)
    requests = []
    for i in range(count):
        body = json.dumps({"pixels": images[i % len(images)]}, separators=(",", ":")).encode()
        requests.append(("POST", route, body, client.authorize(body, job_id, PRICE)))
    return requests


def send_all(url: str, requests: list[Request], deadline: float) -> list[float]:
    """Sends `requests` one after the other on one keep-alive connection; their latencies."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60.0)
    connection.connect()
    assert connection.sock is not None
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    latencies = []
    try:
        for method, path, body, headers in requests:
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            content = response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"gateway answered {response.status}: {content[:300]!r}")
    finally:
        connection.close()
    return latencies


def histogram_totals(metrics: str, name: str, labels: str = "") -> tuple[float, float]:
    """(sum, count) of a Prometheus histogram, over the series whose labels contain `labels`."""

    def total(suffix: str) -> float:
        pattern = rf"^{name}_{suffix}(?:{{(.*)}})? (\S+)$"
        return sum(float(v) for found, v in re.findall(pattern, metrics, re.MULTILINE) if labels in found)

    return total("sum"), total("count")


def phase_mean_ms(before: str, after: str, name: str, labels: str = "") -> float:
    """Mean of a histogram's observations between two scrapes, in ms."""
    (sum0, count0), (sum1, count1) = (
        histogram_totals(before, name, labels),
        histogram_totals(after, name, labels),
    )
    return round((sum1 - sum0) / (count1 - count0) * MS, 3) if count1 > count0 else 0.0


def scrape(url: str) -> str:
    import httpx

    return httpx.get(f"{url}/metrics").text


def components(domain: Any, gateway: str, user: Any, image: list[float], model: Any) -> dict[str, float]:
    """The gateway's per-request parts timed in this process (µs, p50): signature checks with nonce
    persistence, the voucher journal, inference; and the caller's signing."""
    from agents.billing.request_auth import NonceStore, RequestVerifier, sign_request
    from agents.billing.settlement import VoucherJournal
    from agents.billing.typed_data import _recover_signer
    from agents.billing.vouchers import sign_voucher
    from agents.gateway.inference import classify

    directory = Path(tempfile.mkdtemp(prefix="aoai-bench-components-"))
    body = json.dumps({"pixels": image}, separators=(",", ":")).encode()
    job = (1).to_bytes(32, "big")
    started = time.perf_counter()
    signed = []
    for i in range(1, COMPONENT_CALLS + 1):
        voucher = sign_voucher(user, domain, gateway, i * PRICE)
        signed.append((sign_request(user, domain, gateway, body, job, i * PRICE, voucher=voucher), voucher))
    signing = (time.perf_counter() - started) / COMPONENT_CALLS
    _recover_signer.cache_clear()  # signing checked each signature: the gateway's recoveries are cold
    verifier = RequestVerifier(domain, gateway, NonceStore(directory / "nonces.sqlite"))
    journal = VoucherJournal(directory / "settlement", gateway)
    requests, vouchers = iter(signed), iter(signed)
    verify = timed(lambda: verifier.verify(next(requests)[0], body), COMPONENT_CALLS)
    record = timed(lambda: journal.record(next(vouchers)[1]), COMPONENT_CALLS)
    journal.close()
    inference = timed(lambda: classify(model, image), REFERENCE_CALLS)
    return {
        "verify_request_and_voucher_us_p50": round(statistics.median(verify) * 1e6, 1),
        "journal_voucher_us_p50": round(statistics.median(record) * 1e6, 1),
        "inference_us_p50": round(statistics.median(inference) * 1e6, 1),
        "client_signing_ms_per_request_local_key": round(signing * MS, 3),
    }


def main() -> None:
    from ape import accounts, networks
    from eth_account import Account

    from agents.billing.vouchers import billing_domain_of
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
    load = os.getloadavg()

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
        calls = iter(range(REFERENCE_CALLS))
        reference = timed(lambda: classify(model, images[next(calls) % len(images)]), REFERENCE_CALLS)

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
            started = time.perf_counter()
            sequential_requests = presign(clients[0], job_id, images, SEQUENTIAL + 50)
            signing_ape = (time.perf_counter() - started) / len(sequential_requests)
            concurrent_requests = [presign(c, job_id, images, CONCURRENT_PER_USER) for c in clients]
            deadline = time.monotonic() + TIME_BUDGET
            floor_requests: list[Request] = [("GET", "/v1/gateway", b"", {})] * FLOOR_CALLS
            send_all(server.url, floor_requests[:50] + sequential_requests[:50], deadline)  # warm-up
            floor = send_all(server.url, floor_requests, deadline)
            before = scrape(server.url)
            sequential = send_all(server.url, sequential_requests[50:], deadline)
            after = scrape(server.url)
            started = time.perf_counter()
            with ThreadPoolExecutor(CONCURRENT_USERS) as pool:
                runs = list(pool.map(lambda r: send_all(server.url, r, deadline), concurrent_requests))
            elapsed = time.perf_counter() - started
            concurrent = [latency for run in runs for latency in run]
        # Leaving `with server` sent SIGTERM: the gateway settled everything before exiting.
        settled = sum(int(billing.redeemed(u, gateway_account)) for u in users)
        signed = sum(c.cumulative_amount for c in clients)
        domain = billing_domain_of(billing)
    parts = components(domain, gateway_account.address, Account.create(), images[0], model)

    route = f'route="{CLASSIFY_ROUTE}"'
    reference_p50, sequential_p50, floor_p50 = p50_ms(reference), p50_ms(sequential), p50_ms(floor)
    server_ms = phase_mean_ms(before, after, "aoai_gateway_request_seconds", route)
    overhead_p50 = round(sequential_p50 - reference_p50, 3)
    figures = {
        "in_process_inference_p50_ms": reference_p50,
        "in_process_inference_p99_ms": p99_ms(reference),
        "sequential_requests": len(sequential),
        "sequential_p50_ms": sequential_p50,
        "sequential_p99_ms": p99_ms(sequential),
        "gateway_overhead_p50_ms": overhead_p50,
        "sequential_over_in_process_ratio": round(sequential_p50 / reference_p50, 1),
        "http_floor_p50_ms": floor_p50,
        "signed_request_over_http_floor_p50_ms": round(sequential_p50 - floor_p50, 3),
        "server_time_per_request_mean_ms": server_ms,
        "signature_checks_mean_ms": phase_mean_ms(before, after, "aoai_gateway_auth_seconds"),
        "voucher_journal_mean_ms": phase_mean_ms(before, after, "aoai_gateway_journal_seconds"),
        "inference_in_gateway_mean_ms": phase_mean_ms(before, after, "aoai_gateway_inference_seconds"),
        "concurrent_users": CONCURRENT_USERS,
        "concurrent_requests": len(concurrent),
        "concurrent_requests_per_s": round(len(concurrent) / elapsed, 1),
        "concurrent_p50_ms": p50_ms(concurrent),
        "concurrent_p99_ms": p99_ms(concurrent),
        "client_signing_ms_per_request_ape_account": round(signing_ape * MS, 3),
        **parts,
        "wei_signed": signed,
        "wei_settled_at_shutdown": settled,
        "load_average_at_start": [round(x, 2) for x in load],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "machine": "2 shared cores, loopback, gateway and client processes on the same cores",
    }
    targets = [
        Target(
            "gateway adds at p50, ms (over in-process inference)",
            overhead_p50,
            "<=",
            2.0,
        ),
        Target("all signed wei settled at shutdown (1 = yes)", float(settled == signed), ">=", 1.0),
    ]
    report("gateway", figures, targets)


if __name__ == "__main__":
    main()
