"""Prometheus metrics of one gateway, in their own registry (several gateways can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aoai_gateway_requests",
            "HTTP requests by route and status code",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aoai_gateway_request_seconds",
            "Time to answer a request, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.auth_seconds = Histogram(
            "aoai_gateway_auth_seconds",
            "Time spent checking request and voucher signatures and nonces",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.journal_seconds = Histogram(
            "aoai_gateway_journal_seconds",
            "Time spent recording a paid request's voucher durably (SQLite) before serving it",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inference_seconds = Histogram(
            "aoai_gateway_inference_seconds",
            "Time spent in model inference, by skill",
            ["skill"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.revenue_signed = Counter(
            "aoai_gateway_revenue_signed_wei",
            "Wei authorized by users' vouchers for requests served",
            registry=self.registry,
        )
        self.revenue_settled = Counter(
            "aoai_gateway_revenue_settled_wei",
            "Wei redeemed on chain by this gateway's settlements",
            registry=self.registry,
        )
        self.settlements = Counter(
            "aoai_gateway_settlement_transactions",
            "redeemBatch transactions sent",
            registry=self.registry,
        )
        self.generation_served = Gauge(
            "aoai_gateway_best_generation",
            "Generation served by default (best by metric) per job",
            ["job"],
            registry=self.registry,
        )
