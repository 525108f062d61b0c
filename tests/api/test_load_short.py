"""A short version of ``benchmarks/load.py``: retrieve and query clients at once against the
real app on uvicorn (real models, the example documents), each with a key of its own. Every
request is answered 200, or 429/503 (deliberate backpressure), never an error or a dropped
connection; the report carries the latency percentiles. No assertion on time."""

from __future__ import annotations

from api.app import create_app
from api.auth.keys import KeyStore
from benchmarks.load import drive, percentile
from rag.container import Container
from tests.serving import serving


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (
        50.0,
        95.0,
        99.0,
    )
    assert percentile([], 50) == 0.0 and percentile([7.0], 99) == 7.0


def test_clients_at_once_get_answers_or_backpressure_never_errors(
    example_container: Container,
) -> None:
    store = KeyStore(example_container.settings.auth_path)
    keys = [store.create(f"load-short-{n}").key for n in range(5)]
    with serving(create_app(example_container, load_in_background=False)) as base:
        report = drive(base, keys, retrieve_clients=4, query_clients=1, seconds=4)
    for route in ("/v1/retrieve", "/v1/query"):
        row = report["routes"][route]
        assert row["requests"] > 0 and row["ok"] > 0, report
        assert row["failures"] == 0, report
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"], report
