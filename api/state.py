"""What the running app holds: the container, the authenticator and model readiness."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from api.auth.identify import Authenticator
from api.auth.principal import Principal
from api.jobs import JobRunner, JobStore
from ingest.sources import SourceScheduler, SourceSyncer
from rag.collections import CollectionSet
from rag.container import Container
from rag.errors import NotFoundError, RagsteadError

log = logging.getLogger("ragstead.api")


@dataclass
class AppState:
    """The container plus readiness."""

    container: Container
    authenticator: Authenticator
    jobs: JobStore
    runner: JobRunner
    collections: CollectionSet
    #: registered folders kept in sync (``ingest.sources``); the scheduler runs with the app.
    sources: SourceSyncer
    scheduler: SourceScheduler
    ready: threading.Event = field(default_factory=threading.Event)
    load_error: str | None = None
    #: uploads being received now (touched only on the event loop: the upload route is async).
    uploads_in_flight: int = 0

    def container_for(self, collection: str, principal: Principal) -> Container:
        """The container of a collection the caller may use (NotFoundError otherwise, as for
        one that does not exist)."""
        if not principal.may_use(collection):
            raise NotFoundError(
                f"no collection {collection!r}", hint="GET /v1/collections lists yours"
            )
        return self.collections.container(collection)

    @classmethod
    def build(cls, container: Container) -> AppState:
        """The state of an app over ``container`` (the default collection)."""
        collections = CollectionSet(container)
        jobs = JobStore(container.settings.jobs_path)
        sources = SourceSyncer.for_collections(collections)
        return cls(
            container,
            Authenticator(container.settings),
            jobs,
            JobRunner(jobs, collections),
            collections,
            sources,
            SourceScheduler(sources),
        )

    def load_models(self) -> None:
        """Make the app ready, then load the rest in a thread of its own; record an error
        instead of crashing the server.

        Ready needs what a search needs: the query encoder (without PyTorch where the embedder
        exported one before, so a warm server searches about two seconds after it starts) and,
        unless answers are extractive, the generator. The document encoder (the sentences an
        answer is checked against, uploads: onnxruntime too, or the embedder's PyTorch model
        where it cannot be) and, with extractive answers by default, the generator load after;
        a request that needs one before it is loaded waits for it."""
        try:
            self.container.embedder.prepare_queries()
            extractive = self.container.answer_mode == "extractive"
            if not extractive:
                self._load_generator()
            self.ready.set()
            log.info("ready to search; loading the rest")
            threading.Thread(
                target=self._load_rest, args=(extractive,), name="model-loader", daemon=True
            ).start()
        except RagsteadError as exc:
            self.load_error = str(exc)
            log.error("model load failed: %s", exc)
        except Exception as exc:  # keep serving /healthz with the reason
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model load failed")

    def _load_rest(self, generator: bool) -> None:
        """The embedder's document path and (``generator``) the generator, ahead of the
        requests that need them (a failure is logged; that request then reports it)."""
        try:
            self.container.embedder.load()
        except Exception:
            log.exception("the embedder failed to load; answers and uploads will fail")
        if generator:
            self._load_generator_quietly()
        log.info("models loaded")

    def _load_generator(self) -> None:
        load = getattr(self.container.generator, "load", None)
        if callable(load):
            load()

    def _load_generator_quietly(self) -> None:
        """The generator, loaded ahead of the first generative request (a failure is logged;
        that request then reports it)."""
        try:
            self._load_generator()
        except Exception:
            log.exception("the generator failed to load; generative answers will fail")
