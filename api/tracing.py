"""OpenTelemetry traces, off unless ``observability.otlp_endpoint`` names a collector on the
premises (it passes the same outbound check as every other server: loopback, or a host in
``network.outbound_hosts``). Each HTTP request becomes one span (route template, method,
status, request id; never the question). Spans go in batches over OTLP/gRPC.

Example::

    tracer = build_tracer(settings)          # None: tracing is off
    with tracer.start_as_current_span("POST /v1/query"): ...
"""

from __future__ import annotations

from typing import Any

from rag.settings import Settings


def build_tracer(settings: Settings, exporter: Any = None) -> Any:
    """A tracer exporting to the configured collector (or to ``exporter``, for tests); None
    when tracing is off."""
    endpoint = settings.observability.otlp_endpoint
    if exporter is None and not endpoint:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.observability.service_name})
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        insecure = not str(endpoint).startswith("https://")
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=insecure))
        )
    return provider.get_tracer("ragstead")
