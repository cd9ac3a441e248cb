"""Prometheus metrics of one app, in its own registry (several apps in one process, as in
tests, do not collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("shelfwise_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("shelfwise_http_request_seconds", "HTTP request latency by route",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                          1, 2.5, 10))
        self.events = Counter("shelfwise_events_ingested", "events stored (re-sent ones excluded)",
                              registry=self.registry)
        self.fallbacks = Counter("shelfwise_fallbacks", "answers served by the fallback, by reason",
                                 ["reason"], registry=self.registry)
        self.models = Gauge("shelfwise_model_trained_timestamp", "when each trained model was fitted",
                            ["model"], registry=self.registry)
        self.versions = Gauge("shelfwise_model_version", "1 for the version each model serves from",
                              ["model", "version"], registry=self.registry)
        self.fit_seconds = Gauge("shelfwise_model_fit_seconds", "training duration of each serving model",
                                 ["model"], registry=self.registry)
        self.model_failures = Counter("shelfwise_model_failures", "requests a model could not serve, by model",
                                      ["model"], registry=self.registry)
        self.cache_hits = Counter("shelfwise_list_cache_hits", "recommendation lists served from the cache",
                                  registry=self.registry)

    def count_fallback(self, reason: str) -> None:
        """Count an answer served by a fallback, by kind: the model could not answer, the
        shopper is unknown, withholds consent, or the model had nothing for them."""
        label = ("model unavailable" if reason.startswith("model ") else
                 "unknown shopper" if reason.startswith("unknown shopper") else
                 "no consent" if reason.startswith("not personalised") else "no signal")
        self.fallbacks.labels(reason=label).inc()
