"""Generators: the real embedded SmolLM2 through TransformersGenerator, and
OpenAICompatibleGenerator against a real HTTP server on 127.0.0.1 streaming SSE.

The first run converts the GGUF (about 30 s) into the session's model cache (the ``model_cache``
fixture of tests/conftest.py); set RAGSTEAD_TEST_MODEL_CACHE to keep it between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rag.errors import (
    BusyError,
    ConfigurationError,
    GenerationError,
    GeneratorTimeoutError,
    InvalidRequestError,
)
from rag.generators import (
    Generator,
    OpenAICompatibleGenerator,
    TransformersGenerator,
    build_generator,
    complete,
    embedded_embedder_dir,
    embedded_generator_gguf,
)
from rag.generators.admission import GenerationQueue
from rag.generators.int4_weights import recover_int4
from rag.generators.llama_decoder import LlamaDecoder
from rag.generators.stops import StopScanner, apply_stops
from rag.generators.transformers_loader import gguf_cache_dir
from rag.settings import GeneratorSettings, Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
HELLO = [{"role": "user", "content": "What is the capital of France?"}]
COUNT = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]


# -- the embedded model ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def smollm(model_cache: Path) -> TransformersGenerator:
    """The embedded generator, loaded once for the session (converting the GGUF if needed).

    ``model_cache`` (tests/conftest.py) is the session's converted-model cache; set
    RAGSTEAD_TEST_MODEL_CACHE to keep it between runs.
    """
    generator = TransformersGenerator(None, model_cache, device="cpu")
    generator.load()
    return generator


def test_embedded_model_files_are_found() -> None:
    assert embedded_generator_gguf().suffix == ".gguf"
    assert (embedded_embedder_dir() / "config.json").is_file()


@pytest.mark.slow
def test_embedded_generator_writes_text(smollm: TransformersGenerator) -> None:
    assert isinstance(smollm, Generator)
    assert smollm.loaded_from in {"gguf", "cache"}
    text = complete(smollm, HELLO, max_new_tokens=8)
    assert text.strip()
    assert smollm.context_window == 8192
    assert smollm.count_tokens("Paris is the capital of France.") > 3
    cached = gguf_cache_dir(embedded_generator_gguf(), smollm.cache_dir or Path())
    assert (cached / "config.json").is_file()
    assert (cached / "model.safetensors").is_file()
    # a dtype other than float32 (bfloat16 where the CPU has it) keeps a copy of its own, so
    # the next start maps it instead of casting every tensor again
    dtype = smollm.load().dtype
    own = gguf_cache_dir(embedded_generator_gguf(), smollm.cache_dir or Path(), dtype)
    assert (own / "model.safetensors").is_file()


@pytest.mark.slow
def test_a_new_process_loads_the_converted_cache(smollm: TransformersGenerator) -> None:
    expected = complete(smollm, HELLO, max_new_tokens=8)
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from rag.generators import TransformersGenerator, complete\n"
        "g = TransformersGenerator(None, Path(sys.argv[1]), device='cpu')\n"
        "g.load()\n"
        f"text = complete(g, {HELLO!r}, max_new_tokens=8)\n"
        "print(json.dumps({'loaded_from': g.loaded_from, 'text': text}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(smollm.cache_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded_from"] == "cache"
    # Greedy decoding from the cached weights gives what the session's model gives.
    assert result["text"] == expected


@pytest.mark.slow
def test_stop_sequences_cut_the_stream(smollm: TransformersGenerator) -> None:
    full = complete(smollm, COUNT, max_new_tokens=40)
    assert len(full) > 8, full
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    cut = full.find(stop)
    pieces = list(smollm.stream(COUNT, max_new_tokens=40, stop=["never-appears", stop]))
    assert "".join(pieces) == full[:cut]
    assert all(pieces)


@pytest.mark.slow
def test_busy_when_the_queue_is_full(smollm: TransformersGenerator) -> None:
    generator = TransformersGenerator(None, smollm.cache_dir, device="cpu", max_queue=1)
    running = generator.stream(COUNT, max_new_tokens=64)
    assert next(running)  # generating now, holding the one running place
    waiting = generator.stream(COUNT, max_new_tokens=4)  # admitted, waits behind it
    with pytest.raises(BusyError) as busy:
        generator.stream(COUNT, max_new_tokens=4)
    assert busy.value.retry_after >= 1
    waiting.close()  # never started: its place is freed
    again = generator.stream(HELLO, max_new_tokens=4)
    running.close()
    assert "".join(again).strip()
    assert complete(generator, HELLO, max_new_tokens=2)


@pytest.mark.slow
def test_long_prompts_and_model_failures_become_ragstead_errors(
    smollm: TransformersGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = TransformersGenerator(None, smollm.cache_dir, device="cpu")
    small.context_window = 16
    with pytest.raises(InvalidRequestError):
        complete(small, HELLO, max_new_tokens=4)

    def broken_generate(**kwargs: Any) -> None:
        raise RuntimeError("CUDA out of memory (simulated)")

    plain = TransformersGenerator(None, smollm.cache_dir, device="cpu", decoder="generate")
    monkeypatch.setattr(plain.load().model, "generate", broken_generate)
    with pytest.raises(GenerationError, match="out of memory"):
        complete(plain, HELLO, max_new_tokens=4)

    def broken_tokens(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA out of memory (simulated, lean loop)")
        yield 0

    lean = TransformersGenerator(None, smollm.cache_dir, device="cpu")
    lean.load()
    assert lean.decoding_with == "lean"
    decoder = lean._lean_decoder(lean.load())
    assert decoder is not None
    monkeypatch.setattr(decoder, "tokens", broken_tokens)
    with pytest.raises(GenerationError, match="lean loop"):
        complete(lean, HELLO, max_new_tokens=4)


#: a prompt of some hundred tokens, as retrieval sends (the prompt pass and the cache matter)
PASSAGES = [
    {
        "role": "user",
        "content": "Answer from the context.\n\n"
        + "\n".join(
            f"[{n}] Requests of type {n} are answered within {n % 5 + 2} working days; "
            f"records are kept for {n % 7 + 3} years."
            for n in range(1, 12)
        )
        + "\n\nQuestion: how long are records of type 9 kept?",
    }
]


@pytest.mark.slow
def test_the_lean_loop_writes_what_generate_writes(smollm: TransformersGenerator) -> None:
    """Greedy at float32, the lean loop's tokens are ``model.generate``'s, prompt short or long;
    with the embedded model's own 4-bit weights for the steps, nearly all of them."""
    import torch

    plain = TransformersGenerator(
        None, smollm.cache_dir, device="cpu", dtype="float32", decoder="generate"
    )
    loaded = plain.load()
    dense = LlamaDecoder(loaded.model, step_weights="dense")
    int4 = LlamaDecoder(loaded.model, step_weights="int4")
    assert (dense.step_format, int4.step_format) == ("dense", "int4")
    agree, total = 0, 0
    for messages in (COUNT, PASSAGES):
        ids = loaded.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"]
        with torch.inference_mode():
            out = loaded.model.generate(
                ids, max_new_tokens=40, do_sample=False, temperature=None, top_p=None, top_k=None
            )
        expected = [t for t in out[0, ids.shape[1] :].tolist() if t != 2]
        assert list(dense.tokens(ids, 40, eos_ids={2})) == expected
        got = list(int4.tokens(ids, 40, eos_ids={2}, step_threads=1))
        agree += next(
            (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
            min(len(got), len(expected)),
        )
        total += len(expected)
    assert agree >= 0.9 * total, (agree, total)
    assert smollm.decoding_with == "lean"  # the embedded model's default, any dtype


def test_four_bit_weights_are_recovered_exactly_or_refused() -> None:
    """A matrix on 4-bit grids (as Q4_1 dequantized) is packed without loss; others are refused."""
    import torch

    torch.manual_seed(0)
    levels = torch.randint(0, 16, (64, 128)).float()
    levels[:, ::32] = 0  # each group of 32 holds its minimum and maximum level, as Q4_1's do
    levels[:, 1::32] = 15
    step = torch.rand(64, 4, 1) * 0.01 + 0.001
    low = torch.randn(64, 4, 1) * 0.05
    weight = (low + step * levels.view(64, 4, 32)).view(64, 128)
    packed = recover_int4(weight)
    assert packed is not None
    x = torch.randn(3, 128)
    reference = x.to(torch.bfloat16).float() @ weight.T
    assert torch.allclose(packed.mm(x), reference, rtol=2e-2, atol=2e-3)
    assert recover_int4(torch.randn(64, 128)) is None  # full precision: never approximated
    assert recover_int4(torch.randn(64, 100)) is None  # not whole groups of 32


def test_missing_model_dir_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        TransformersGenerator(tmp_path / "nope", tmp_path)
    with pytest.raises(ConfigurationError, match=r"config\.json"):
        TransformersGenerator(tmp_path, tmp_path)
    with pytest.raises(ConfigurationError):
        TransformersGenerator(None, tmp_path, dtype="float8")


def test_the_queue_serves_in_order_and_refuses_when_full() -> None:
    queue = GenerationQueue(max_waiting=1)
    first, second = queue.admit(), queue.admit()
    with pytest.raises(BusyError):
        queue.admit()
    order: list[str] = []

    def run_second() -> None:
        with second:
            order.append("second")

    thread = threading.Thread(target=run_second)
    with first:
        thread.start()
        thread.join(timeout=0.2)
        assert thread.is_alive()  # waits while the first runs
        order.append("first")
    thread.join(timeout=5)
    assert order == ["first", "second"]
    assert queue.pending == 0
    queue.admit().release()
    assert queue.pending == 0


def test_stop_scanner_holds_back_split_stop_sequences() -> None:
    assert list(apply_stops(iter(["Hello </an", "swer> tail"]), ["</answer>"])) == ["Hello "]
    assert "".join(apply_stops(iter(["a</", "b>c"]), ["</answer>"])) == "a</b>c"
    assert list(apply_stops(iter(["x", "y"]), [])) == ["x", "y"]
    scanner = StopScanner(["STOP", "END"])
    assert scanner.feed("abcST") == "abc"
    assert scanner.feed("O") == ""
    assert scanner.flush() == "STO"


def test_build_generator_checks_its_settings(tmp_path: Path) -> None:
    def settings(**generator: Any) -> Settings:
        return Settings(data_dir=tmp_path, generator=GeneratorSettings(**generator))

    assert isinstance(build_generator(settings()), TransformersGenerator)
    served = build_generator(settings(kind="openai", base_url="http://127.0.0.1:9/v1", model="m"))
    assert isinstance(served, OpenAICompatibleGenerator)
    assert served.timeout_s == GeneratorSettings().timeout_s  # one default, in the settings
    with pytest.raises(ConfigurationError, match="base_url"):
        build_generator(settings(kind="openai", model="m"))
    with pytest.raises(ConfigurationError, match="unknown generator kind"):
        build_generator(settings(kind="llamafile"))


# -- an OpenAI-compatible server on 127.0.0.1 --------------------------------------------------

Behaviour = Callable[[BaseHTTPRequestHandler], None]


class FakeModelServer:
    """A real HTTP server: each request gets the next scripted behaviour and is recorded."""

    def __init__(self) -> None:
        self.script: list[Behaviour] = []
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                server.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                server.script.pop(0)(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def sse(*texts: str, done: bool = True, raw: tuple[str, ...] = ()) -> Behaviour:
    """Stream ``texts`` as chat chunks (a role chunk first, a finish chunk last)."""

    def behave(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        chunks += [{"choices": [{"index": 0, "delta": {"content": t}}]} for t in texts]
        lines = [f"data: {json.dumps(c)}" for c in chunks] + list(raw)
        if done:
            finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            lines += [f"data: {json.dumps(finish)}", "data: [DONE]"]
        for line in lines:
            handler.wfile.write(f"{line}\n\n".encode())
            handler.wfile.flush()

    return behave


def error(status: int, message: str) -> Behaviour:
    def behave(handler: BaseHTTPRequestHandler) -> None:
        payload = json.dumps({"error": {"message": message, "type": "invalid_request_error"}})
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload.encode())

    return behave


def stall(server: FakeModelServer, seconds: float) -> Behaviour:
    def behave(handler: BaseHTTPRequestHandler) -> None:
        server.release.wait(seconds)

    return behave


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    server = FakeModelServer()
    yield server
    server.close()


def client(server: FakeModelServer, **kwargs: Any) -> OpenAICompatibleGenerator:
    kwargs.setdefault("backoff_s", 0.01)
    return OpenAICompatibleGenerator(server.base_url, "test-model", **kwargs)


def test_openai_stream_assembles_text_and_sends_the_request(
    model_server: FakeModelServer,
) -> None:
    model_server.script = [sse("Hel", "lo", " world")]
    gen = client(model_server, api_key="sekret")
    assert isinstance(gen, Generator)
    assert complete(gen, HELLO, max_new_tokens=12, stop=["END"]) == "Hello world"
    (request,) = model_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sekret"
    body = request["body"]
    assert body["stream"] is True
    assert body["stop"] == ["END"]
    assert body["model"] == "test-model"
    assert body["max_tokens"] == 12
    assert body["messages"] == HELLO
    assert gen.count_tokens("abcde") == 2


def test_openai_stop_is_applied_even_if_the_server_ignores_it(
    model_server: FakeModelServer,
) -> None:
    model_server.script = [sse("abc</ans", "wer>def")]
    assert complete(client(model_server), HELLO, stop=["</answer>"]) == "abc"


def test_openai_retries_a_500_before_the_first_token(model_server: FakeModelServer) -> None:
    model_server.script = [error(500, "warming up"), sse("ok")]
    assert complete(client(model_server, max_retries=2), HELLO) == "ok"
    assert len(model_server.requests) == 2


def test_openai_gives_up_after_max_retries(model_server: FakeModelServer) -> None:
    model_server.script = [error(503, "overloaded"), error(503, "overloaded")]
    with pytest.raises(GenerationError, match="overloaded"):
        complete(client(model_server, max_retries=1), HELLO)
    assert len(model_server.requests) == 2


def test_openai_429_after_retries_is_busy(model_server: FakeModelServer) -> None:
    model_server.script = [error(429, "slow down")]
    with pytest.raises(BusyError):
        complete(client(model_server, max_retries=0), HELLO)


def test_openai_timeout(model_server: FakeModelServer) -> None:
    model_server.script = [stall(model_server, 5.0)]
    with pytest.raises(GeneratorTimeoutError):
        complete(client(model_server, timeout_s=0.3), HELLO)
    assert len(model_server.requests) == 1  # timeouts are not retried


@pytest.mark.parametrize(
    "behaviour",
    [
        sse("fine", raw=("data: {not json",)),
        sse("fine", raw=('data: {"object": "chat.completion.chunk"}',)),
        sse("cut short", done=False),
    ],
    ids=["invalid-json", "no-choices", "no-done"],
)
def test_openai_malformed_stream(model_server: FakeModelServer, behaviour: Behaviour) -> None:
    model_server.script = [behaviour]
    with pytest.raises(GenerationError):
        complete(client(model_server), HELLO)


def test_openai_400_carries_the_server_message(model_server: FakeModelServer) -> None:
    model_server.script = [error(400, "max_tokens must be at most 4096")]
    with pytest.raises(GenerationError, match="max_tokens must be at most 4096") as failed:
        complete(client(model_server), HELLO, max_new_tokens=100_000)
    assert not isinstance(failed.value, GeneratorTimeoutError)
    assert len(model_server.requests) == 1  # a 4xx is not retried


def test_openai_unreachable_server_is_retried_then_reported() -> None:
    gen = OpenAICompatibleGenerator(
        "http://127.0.0.1:9/v1", "m", max_retries=1, backoff_s=0.01, timeout_s=2
    )
    with pytest.raises(GenerationError, match="cannot reach"):
        complete(gen, HELLO)
