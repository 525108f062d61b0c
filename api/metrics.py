"""Prometheus metrics of one app, in a registry of its own (several apps in one process, as in
the tests, never share or clash), served at ``/metrics`` to callers with ``admin``.

- ``ragstead_http_requests_total{route,method,status}`` and
  ``ragstead_http_request_seconds{route,method}``: every request, by route template;
- ``ragstead_answer_seconds{step}``: retrieval, time to first token and generation of answers;
  ``ragstead_answer_tokens_total{kind}``: prompt and completion tokens;
  ``ragstead_answers_total{covered}``;
- read when scraped: ``ragstead_jobs_queued`` (upload jobs waiting or running),
  ``ragstead_upload_files_total{outcome}``, ``ragstead_uploads_in_flight``,
  ``ragstead_model_ready``.

Example::

    metrics = Metrics(state)
    body, content_type = metrics.render()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from rag.types import Answer

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_STEPS = {"retrieve_ms": "retrieve", "ttft_ms": "first_token", "generate_ms": "generate"}


class _Readings(Collector):
    """Gauges and counters read from the app's state when scraped."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        now = self.read()
        yield GaugeMetricFamily(
            "ragstead_jobs_queued", "upload jobs waiting or running", value=now["jobs_queued"]
        )
        yield GaugeMetricFamily(
            "ragstead_uploads_in_flight", "uploads being received", value=now["uploads"]
        )
        yield GaugeMetricFamily(
            "ragstead_model_ready", "1 once the models are loaded", value=now["ready"]
        )
        files = CounterMetricFamily(
            "ragstead_upload_files", "uploaded files ingested, by outcome", labels=["outcome"]
        )
        for outcome, count in now["files"].items():
            files.add_metric([outcome], count)
        yield files


class Metrics:
    """The counters and histograms of one app."""

    def __init__(self, read: Callable[[], dict[str, Any]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "ragstead_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ragstead_http_request_seconds",
            "HTTP request latency by route",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answer_seconds = Histogram(
            "ragstead_answer_seconds",
            "answer steps: retrieve, first_token, generate",
            ["step"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "ragstead_answer_tokens",
            "model tokens by kind (prompt, completion)",
            ["kind"],
            registry=self.registry,
        )
        self.answers = Counter(
            "ragstead_answers",
            "answers by whether the documents covered the question",
            ["covered"],
            registry=self.registry,
        )
        if read is not None:
            self.registry.register(_Readings(read))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_answer(self, answer: Answer) -> None:
        """Count one finished answer: its steps' times and its tokens."""
        for key, step in _STEPS.items():
            if key in answer.timings:
                self.answer_seconds.labels(step).observe(answer.timings[key] / 1000)
        for kind in ("prompt_tokens", "completion_tokens"):
            if answer.usage.get(kind):
                self.tokens.labels(kind.removesuffix("_tokens")).inc(answer.usage[kind])
        self.answers.labels(str(answer.covered).lower()).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
