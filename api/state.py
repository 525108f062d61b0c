"""What the running app holds: the container, the authenticator and model readiness."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from api.auth.identify import Authenticator
from api.auth.principal import Principal
from api.jobs import JobRunner, JobStore
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
    ready: threading.Event = field(default_factory=threading.Event)
    load_error: str | None = None

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
        return cls(
            container,
            Authenticator(container.settings),
            jobs,
            JobRunner(jobs, collections),
            collections,
        )

    def load_models(self) -> None:
        """Load embedder and generator; record the error instead of crashing the server."""
        try:
            self.container.embedder.load()
            self.container.generator.load()
            self.ready.set()
            log.info("models loaded; ready")
        except RagsteadError as exc:
            self.load_error = str(exc)
            log.error("model load failed: %s", exc)
        except Exception as exc:  # keep serving /healthz with the reason
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model load failed")
