"""The ``Generator`` contract, run on every implementation: the embedded SmolLM2 through
transformers, the OpenAI-compatible client against a model server on 127.0.0.1, and the echo
fake. Each streams text pieces, honours ``max_new_tokens`` and stop sequences, counts tokens
and loads on demand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.generators import Generator, OpenAICompatibleGenerator, TransformersGenerator, complete
from rag.testing import EchoGenerator
from tests.rag.test_generators import FakeModelServer, sse

QUESTION = [
    {"role": "system", "content": "Answer from the passages."},
    {"role": "user", "content": "[1] Leave policy\nStaff get 28 days of leave.\n\nQuestion: How "
     "many days of leave do staff get?"},
]  # fmt: skip


class ServedGenerator(OpenAICompatibleGenerator):
    """The OpenAI-compatible client whose server replies with a scripted stream each time."""

    def __init__(self, server: FakeModelServer) -> None:
        super().__init__(server.base_url, "served", backoff_s=0.01)
        self.server = server

    def stream(self, messages, *, max_new_tokens=256, stop=()):  # type: ignore[no-untyped-def]
        words = ["Staff", " get", " 28", " days", " of", " leave", " [1]", "."]
        self.server.script.append(sse(*words[:max_new_tokens]))
        return super().stream(messages, max_new_tokens=max_new_tokens, stop=stop)


@pytest.fixture(scope="module")
def served() -> Iterator[FakeModelServer]:
    server = FakeModelServer()
    yield server
    server.close()


@pytest.fixture(params=["echo", "openai", pytest.param("transformers", marks=pytest.mark.slow)])
def generator(
    request: pytest.FixtureRequest, model_cache: Path, served: FakeModelServer
) -> Generator:
    if request.param == "echo":
        return EchoGenerator()
    if request.param == "openai":
        return ServedGenerator(served)
    return TransformersGenerator(None, model_cache, device="cpu")


def test_it_is_a_generator_with_a_name_and_a_window(generator: Generator) -> None:
    assert isinstance(generator, Generator)
    generator.load()
    assert generator.name and generator.context_window >= 1024


def test_streamed_pieces_make_the_whole_answer(generator: Generator) -> None:
    pieces = list(generator.stream(QUESTION, max_new_tokens=12))
    assert pieces and all(isinstance(p, str) for p in pieces)
    text = "".join(pieces)
    assert text.strip()
    assert complete(generator, QUESTION, max_new_tokens=12) == text  # deterministic (greedy)


def test_max_new_tokens_bounds_the_answer(generator: Generator) -> None:
    short = complete(generator, QUESTION, max_new_tokens=3)
    long = complete(generator, QUESTION, max_new_tokens=12)
    assert 0 < len(short) < len(long)
    assert generator.count_tokens(short) <= 3 + 2  # a tokenizer may merge or split at the edges


def test_a_stop_sequence_ends_the_answer_before_it(generator: Generator) -> None:
    full = complete(generator, QUESTION, max_new_tokens=12)
    word = full.split()[1]
    cut = complete(generator, QUESTION, max_new_tokens=12, stop=[word])
    assert word not in cut and full.startswith(cut)


def test_token_counts_grow_with_the_text(generator: Generator) -> None:
    one = generator.count_tokens("Leave")
    many = generator.count_tokens("Leave requests go to your line manager before the 1st.")
    assert 0 < one < many
