"""The ``Generator`` seam: something that turns chat messages into text, token by token.

One required method, ``stream``; ``complete`` builds on it. Implementations:
``TransformersGenerator`` (in-process, the embedded SmolLM2 or any local model directory) and
``OpenAICompatibleGenerator`` (vLLM, llama.cpp server, Ollama, TGI on the premises).

Example::

    gen = TransformersGenerator(model_dir=None, cache_dir=data_dir / "models")
    text = gen.complete([{"role": "user", "content": "Say hi"}], max_new_tokens=8)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


@runtime_checkable
class Generator(Protocol):
    """Writes text for chat messages. ``stream`` yields text pieces as they are generated."""

    #: the model's context window in tokens (prompt + answer).
    context_window: int
    #: a short name for logs and the API ("SmolLM2-135M-Instruct", "vllm:llama-3-8b").
    name: str

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 256,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the answer in pieces; stop at ``max_new_tokens`` or a stop sequence."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes in this model's tokenizer (an estimate for servers)."""
        ...

    def load(self) -> object:
        """Load the model now rather than on the first request (a no-op for servers)."""
        ...


def complete(
    generator: Generator,
    messages: Sequence[Message],
    *,
    max_new_tokens: int = 256,
    stop: Sequence[str] = (),
) -> str:
    """The whole answer as one string."""
    return "".join(generator.stream(messages, max_new_tokens=max_new_tokens, stop=stop))
