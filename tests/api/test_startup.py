"""Start-up: the app is ready once what its default answers need is loaded."""

from __future__ import annotations

import threading
from pathlib import Path

from api.state import AppState
from rag.container import Container
from rag.settings import Settings
from rag.testing import EchoGenerator, HashingEmbedder


class GatedGenerator(EchoGenerator):
    """A generator whose load waits until the test releases it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.loaded = threading.Event()

    def load(self) -> None:
        self.started.set()
        self.release.wait(30)
        self.loaded.set()


def _state(tmp_path: Path, mode: str) -> tuple[AppState, GatedGenerator]:
    generator = GatedGenerator()
    settings = Settings(data_dir=tmp_path, answers={"mode": mode})
    container = Container(settings, embedder=HashingEmbedder(), generator=generator)
    return AppState.build(container), generator


def test_extractive_answers_are_ready_before_the_generator_loads(tmp_path: Path) -> None:
    state, generator = _state(tmp_path, "auto")  # auto: extractive for the embedded model
    assert state.container.answer_mode == "extractive"
    threading.Thread(target=state.load_models, daemon=True).start()
    assert state.ready.wait(30)
    assert not generator.loaded.is_set()  # still loading, and the app already serves
    assert generator.started.wait(30)  # it is loading ahead of the first generative request
    generator.release.set()
    assert generator.loaded.wait(30)
    assert state.load_error is None


def test_generative_answers_wait_for_the_generator(tmp_path: Path) -> None:
    state, generator = _state(tmp_path, "generative")
    threading.Thread(target=state.load_models, daemon=True).start()
    assert generator.started.wait(30)
    assert not state.ready.is_set()
    generator.release.set()
    assert state.ready.wait(30) and generator.loaded.is_set()


class GatedEmbedder(HashingEmbedder):
    """Queries ready at once (``prepare_queries``); the full model's load waits for the test."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.loaded = threading.Event()

    def prepare_queries(self) -> None:
        """Nothing to wait for: the query path is ready."""

    def load(self) -> None:
        self.release.wait(30)
        self.loaded.set()


def test_searches_are_served_before_the_embedder_model_loads(tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    settings = Settings(data_dir=tmp_path, answers={"mode": "auto"})
    state = AppState.build(Container(settings, embedder=embedder, generator=GatedGenerator()))
    threading.Thread(target=state.load_models, daemon=True).start()
    assert state.ready.wait(30)
    assert not embedder.loaded.is_set()
    assert state.container.retriever.retrieve("annual leave", top_k=3) == []  # searches now
    embedder.release.set()
    assert embedder.loaded.wait(30)  # the rest loads behind, ahead of answers and uploads
    assert state.load_error is None
