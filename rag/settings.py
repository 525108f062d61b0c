"""Typed settings: defaults, then ``ragstead.yaml``, then ``RAGSTEAD_...`` environment variables.

Nested sections use ``__`` in environment variables, e.g. ``RAGSTEAD_GENERATOR__KIND=openai``.
The YAML file is ``$RAGSTEAD_CONFIG`` if set, else ``ragstead.yaml`` in the working directory.
The defaults run with no file and no network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from rag.prompting import (
    DEFAULT_PASSAGE_TEMPLATE,
    DEFAULT_QUESTION_TEMPLATE,
    DEFAULT_SYSTEM_PROMPT,
)

#: a collection's name: lower-case letters, digits, '-' and '_', at most 48.
COLLECTION_NAME = r"^[a-z0-9][a-z0-9_-]{0,47}$"


class EmbedderSettings(BaseModel):
    """Which model embeds chunks and queries."""

    kind: str = Field(
        "sentence-transformers",
        description="sentence-transformers (in-process), openai (an embedding server), or"
        " module:name",
    )
    model_dir: Path | None = Field(
        None,
        description="model directory; None = embedded MiniLM (kind openai: optional, a"
        " directory with the served model's tokenizer.json for exact chunk budgets)",
    )
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    batch_size: int = Field(32, ge=1, description="texts per model call (per request: openai)")
    base_url: str | None = Field(
        None, description="kind openai: the server's OpenAI-compatible base URL, e.g. TEI's"
    )
    model: str | None = Field(None, description="kind openai: the model name the server serves")
    api_key: str | None = Field(None, description="kind openai: bearer token, if it asks for one")
    timeout_s: float = Field(60.0, gt=0, description="kind openai: seconds per request")
    max_retries: int = Field(3, ge=0, description="kind openai: retries of a failed request")
    concurrency: int = Field(4, ge=1, description="kind openai: requests in flight at once")
    query_runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="how one query is embedded: onnxruntime on CPU in float32 where the model"
        " allows (auto), required (onnx), or PyTorch (torch); same vectors either way",
    )
    document_runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="how documents are embedded: onnxruntime on CPU in float32 where the model"
        " allows and embedder.dtype is auto or float32 (auto; no PyTorch in ingestion), required"
        " (onnx), or PyTorch in embedder.dtype (torch)",
    )
    document_precision: Literal["auto", "float32", "int8"] = Field(
        "auto",
        description="the document encoder's weights through onnxruntime: int8 (quantized once"
        " from the float32 graph: ingestion about 1.5x faster, vectors at cosine ~0.99 to the"
        " float32 ones, retrieval within 0.3 point), float32 (the model's own vectors), or auto:"
        " int8 where the CPU has int8 kernels (AVX2, VNNI, AMX) and embedder.dtype is auto;"
        " queries stay float32",
    )
    sentence_pooling: Literal["chunk", "separate", "sentences"] = Field(
        "separate",
        description="a chunk's vectors: separate (the chunk and each sentence embedded on their"
        " own: two passes), sentences (each sentence embedded on its own, the chunk's vector"
        " pooled from them: one pass over short pieces, about 1.6x faster, SciFact hybrid nDCG@10"
        " 0.4 point lower) or chunk (sentence vectors pooled from the chunk's pass: less"
        " dense-only quality); README, Ingestion figures",
    )


class GeneratorSettings(BaseModel):
    """Which model writes answers: in-process transformers or an OpenAI-compatible server."""

    kind: str = Field(
        "transformers",
        description="transformers (in-process), openai (a model server), or module:name",
    )
    model_dir: Path | None = Field(None, description="transformers model dir; None = SmolLM2")
    base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. vLLM")
    model: str | None = None
    api_key: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    timeout_s: float = Field(120.0, gt=0)
    max_new_tokens: int = Field(160, ge=1)
    max_queue: int = Field(8, ge=0)
    temperature: float = Field(0.0, ge=0.0, description="0 = greedy decoding")
    decoder: Literal["auto", "generate"] = Field(
        "auto",
        description="in-process: auto = a lean loop for Llama-shaped models (the embedded one),"
        " model.generate for others; generate = always model.generate",
    )
    max_retries: int = Field(2, ge=0, description="model server: retries before the first token")
    context_window: int | None = Field(
        None, ge=256, description="model server's context window; None = 8192"
    )


class StoreSettings(BaseModel):
    """Where vectors live: Chroma in the data directory, or a Chroma server."""

    kind: str = Field("chroma", description="registered vector store kind, or module:name")
    chroma_host: str | None = Field(None, description="Chroma server host; None = local files")
    chroma_port: int = 8000
    collection: str = "ragstead"
    mode: Literal["embedded", "server"] = Field(
        "embedded",
        description="server: lexical index in PostgreSQL (postgres_url), vectors in a Chroma"
        " server (chroma_host), shared by several processes and hosts",
    )
    postgres_url: str | None = Field(None, description="PostgreSQL URL for server mode")


class ChunkingSettings(BaseModel):
    """How documents are cut into chunks (token counts in the embedder's tokenizer)."""

    max_tokens: int = Field(200, ge=32, le=512)
    min_tokens: int = Field(40, ge=0)
    sentence_vectors: bool = Field(
        True,
        description="also embed each sentence of a chunk on its own (better dense matches;"
        " embeds the text twice at ingest)",
    )


class IngestSettings(BaseModel):
    """How ingestion runs: parse processes, time limits, embedding batches, default groups."""

    workers: int | None = Field(
        None, ge=0, description="parse processes; None = cores - 1 (at least 1); 0 = in-process"
    )
    parse_timeout_s: float = Field(300.0, gt=0, description="a file parsing longer fails")
    embed_batch: int = Field(256, ge=1, description="chunks embedded and written together")
    worker_nice: int = Field(10, ge=0, le=19, description="parse processes yield to the embedder")
    groups: list[str] = Field(default_factory=list, description="default access groups")
    source_roots: list[Path] = Field(
        default_factory=list,
        description="folders under which POST /v1/sources may register a source (none: the API"
        " registers none; `ragstead sources add` on the server may register any folder)",
    )


class RetrievalSettings(BaseModel):
    """How passages are found and fused (defaults measured on SciFact and COVID-QA; README)."""

    top_k: int = Field(5, ge=1, le=100, description="passages a search returns by default")
    dense_candidates: int = Field(200, ge=1, description="chunks dense search returns to fusion")
    sentence_candidates: int = Field(
        100, ge=1, description="chunks the best-sentence search returns to fusion"
    )
    lexical_candidates: int = Field(200, ge=1, description="chunks BM25 returns to fusion")
    fusion: Literal["blend", "rrf"] = Field(
        "blend", description="blend: weighted min-max scores; rrf: reciprocal rank fusion"
    )
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="dense share of the blend")
    sentence_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="share of the dense part given to sentence matches"
    )
    rrf_k: int = Field(60, ge=1)
    title_weight: float = Field(2.0, gt=0.0, description="BM25 weight of title and section")
    context_weight: float = Field(
        0.5, ge=0.0, description="BM25 weight of the neighbouring chunks' text"
    )
    mmr_lambda: float | None = Field(
        None, ge=0.0, le=1.0, description="diversity (MMR) trade-off; None = off"
    )
    neighbors: int = Field(1, ge=0, le=3, description="chunks before/after a hit to add")
    reranker_dir: Path | None = Field(None, description="cross-encoder model dir; None = off")
    rerank_candidates: int = Field(30, ge=1, le=200)
    query_cache_size: int = Field(1024, ge=0, description="query embeddings kept in memory")
    profile_boost: float = Field(
        1.0,
        ge=0.0,
        description="score boost for documents whose profile matches what a question names"
        " (a period, a company or product): scores times 1 + boost x fit; 0 = off",
    )


#: the prompt budget of the embedded SmolLM2-135M: a small model's first word waits on every
#: prompt token (``benchmarks/generative_served.py``), and it reads a few passages better than
#: many.
EMBEDDED_PROMPT_TOKENS = 1024


class AnswerSettings(BaseModel):
    """How answers are written, cited and checked (see rag/assistant.py)."""

    mode: Literal["auto", "generative", "extractive"] = Field(
        "auto", description="auto = extractive for the embedded 135M model, else generative"
    )
    top_k: int = Field(10, ge=1, le=100, description="passages per answer (a request may say)")
    max_prompt_tokens: int | None = Field(
        None,
        ge=256,
        le=1_000_000,
        description="tokens a generative prompt may take (system prompt, history, passages, "
        f"question); None = {EMBEDDED_PROMPT_TOKENS} for the embedded 135M model (it reads "
        "fewer passages better, and faster), the model's context window otherwise",
    )
    min_relevance: float = Field(
        0.29, ge=-1.0, le=1.0, description="question-passage cosine under which: 'not covered'"
    )
    min_support: float = Field(
        0.63, ge=0.0, le=1.0, description="similarity a sentence needs to count as supported"
    )
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    passage_template: str = Field(DEFAULT_PASSAGE_TEMPLATE, description="{n} {label} {text}")
    question_template: str = Field(DEFAULT_QUESTION_TEMPLATE, description="{passages} {question}")
    stop: list[str] = Field(default_factory=list, description="extra stop sequences")

    @field_validator("passage_template")
    @classmethod
    def _passage_fields(cls, value: str) -> str:
        for name in ("{n}", "{text}"):
            if name not in value:
                raise ValueError(f"the passage template needs {name}")
        return value

    @field_validator("question_template")
    @classmethod
    def _question_fields(cls, value: str) -> str:
        for name in ("{passages}", "{question}"):
            if name not in value:
                raise ValueError(f"the question template needs {name}")
        return value


class ChatSettings(BaseModel):
    """Conversations: how follow-ups are rewritten and how much history a prompt keeps."""

    rewriter: Literal["auto", "rules", "model", "off"] = Field(
        "auto", description="auto = rules for the embedded model, the model otherwise"
    )
    history_tokens: int = Field(512, ge=0, description="earlier turns kept in a prompt")


class OidcSettings(BaseModel):
    """Bearer tokens from the company's identity provider (off unless ``issuer`` is set)."""

    issuer: str | None = Field(None, description="the token's iss, e.g. https://sso.corp/realms/x")
    audience: str | None = Field(None, description="the token's aud Ragstead accepts")
    jwks_file: Path | None = Field(None, description="the provider's JWKS as a file")
    jwks_url: str | None = Field(None, description="the provider's JWKS URL on the premises")
    groups_claim: str = Field("groups", description="claim holding the caller's groups")
    scopes_claim: str = Field("scope", description="claim holding read/write/admin")
    default_scopes: list[str] = Field(default_factory=lambda: ["read"])
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    leeway_s: int = Field(30, ge=0, le=300, description="clock skew allowed on exp/nbf")


class ProxyAuthSettings(BaseModel):
    """Identity passed by a trusted reverse proxy on the premises (oauth2-proxy and the like).

    Off by default. Only requests whose peer address is in ``trusted`` are believed; a request
    with its own ``Authorization`` header is authenticated by that instead.
    """

    enabled: bool = False
    trusted: list[str] = Field(
        default_factory=list, description="proxy addresses or networks, e.g. 10.0.0.7, 10.1.0.0/16"
    )
    user_header: str = "X-Forwarded-User"
    groups_header: str = Field("X-Forwarded-Groups", description="comma-separated groups")
    scopes: list[str] = Field(default_factory=lambda: ["read"], description="given to every user")


class AuthSettings(BaseModel):
    """Who may call the API: API keys (``ragstead keys``) and, when set, OIDC tokens."""

    enabled: bool = Field(
        True, description="off is allowed only for a server bound to a loopback address"
    )
    oidc: OidcSettings = OidcSettings()
    proxy: ProxyAuthSettings = ProxyAuthSettings()


class AuditSettings(BaseModel):
    """The audit log (``audit.jsonl`` in the data directory): who asked what, what they got."""

    enabled: bool = True
    questions: Literal["full", "hash", "off"] = Field(
        "hash", description="keep questions whole, as a SHA-256, or not at all"
    )
    max_bytes: int = Field(10_000_000, ge=10_000, description="rotate at this size")
    backups: int = Field(10, ge=1, le=1000, description="rotated files kept")


class ApiSettings(BaseModel):
    """The HTTP server."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="largest request body; a larger one gets 413 unread"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host header values accepted besides localhost, 127.0.0.1, ::1 and the bound"
        " host (a name or address clients use to reach the server); '*' accepts any",
    )
    upload_max_file_bytes: int = Field(
        100_000_000, ge=1024, description="largest uploaded file (POST /v1/documents)"
    )
    upload_max_request_bytes: int = Field(
        500_000_000, ge=1024, description="largest upload request, all files together"
    )
    upload_max_files: int = Field(100, ge=1, le=10_000, description="files in one upload")
    max_concurrent_uploads: int = Field(
        4, ge=1, le=256, description="uploads received at once; more get 503 with Retry-After"
    )
    rate_limit_per_minute: int = Field(
        3000, ge=0, description="requests per minute per key or user (0: no limit); 429 past it"
    )
    rate_limit_burst: int = Field(300, ge=1, description="requests a caller may send at once")
    auth_failures_per_minute: int = Field(
        30,
        ge=0,
        description="failed sign-ins per minute from one address before it gets 429 (0: no limit)",
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="`ragstead serve`'s log lines: JSON objects with a request_id, or text"
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins (https://intranet.example.com) whose pages may call the API from a"
        " browser; empty: CORS off",
    )


class ObservabilitySettings(BaseModel):
    """Traces (OpenTelemetry), off unless a collector on the premises is named."""

    otlp_endpoint: str | None = Field(
        None, description="OTLP/gRPC collector, e.g. http://127.0.0.1:4317; None = no traces"
    )
    service_name: str = "ragstead"


class NetworkSettings(BaseModel):
    """The servers this process may contact (``rag.outbound``)."""

    outbound_hosts: list[str] = Field(
        default_factory=list,
        description="hosts besides loopback that settings may name (a model, embedding, OIDC"
        " or Chroma server on the premises); any other is refused at start-up",
    )


class Settings(BaseSettings):
    """All settings of one Ragstead process."""

    model_config = SettingsConfigDict(
        env_prefix="RAGSTEAD_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(Path(".ragstead"), description="everything the process writes")
    collection: str = Field(
        "default",
        pattern=COLLECTION_NAME,
        description="the named, isolated index this process reads and writes by default",
    )
    model_cache_dir: Path | None = Field(
        None, description="converted models; None = data_dir/models"
    )
    embedder: EmbedderSettings = EmbedderSettings()
    generator: GeneratorSettings = GeneratorSettings()
    store: StoreSettings = StoreSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    api: ApiSettings = ApiSettings()
    auth: AuthSettings = AuthSettings()
    audit: AuditSettings = AuditSettings()
    answers: AnswerSettings = AnswerSettings()
    chat: ChatSettings = ChatSettings()
    network: NetworkSettings = NetworkSettings()
    observability: ObservabilitySettings = ObservabilitySettings()

    @model_validator(mode="after")
    def _outbound_urls_allowed(self) -> Settings:
        from rag.outbound import check_url

        web = ("http", "https")
        for setting, url, schemes in (
            ("embedder.base_url", self.embedder.base_url, web),
            ("generator.base_url", self.generator.base_url, web),
            ("auth.oidc.jwks_url", self.auth.oidc.jwks_url, web),
            ("store.chroma_host", self.store.chroma_host, web),
            ("store.postgres_url", self.store.postgres_url, ("postgresql", "postgres")),
            ("observability.otlp_endpoint", self.observability.otlp_endpoint, web),
        ):
            if url:
                try:
                    check_url(url, self.network.outbound_hosts, setting, schemes)
                except Exception as exc:  # pydantic reports ValueErrors as invalid settings
                    raise ValueError(str(exc)) from exc
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order: explicit arguments, environment, YAML file, defaults."""
        yaml_path = Path(os.environ.get("RAGSTEAD_CONFIG", "ragstead.yaml"))
        return (
            init_settings,
            env_settings,
            YamlConfigSettingsSource(settings_cls, yaml_file=yaml_path),
        )

    @property
    def models_dir(self) -> Path:
        """Converted model cache."""
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def collection_dir(self) -> Path:
        """The collection's own folder: the data directory itself for ``default``."""
        if self.collection == "default":
            return self.data_dir
        return self.data_dir / "collections" / self.collection

    def for_collection(self, name: str) -> Settings:
        """The same settings for another collection."""
        return self.model_copy(update={"collection": name})

    @property
    def chroma_dir(self) -> Path:
        """Local Chroma files."""
        return self.collection_dir / "chroma"

    @property
    def audit_path(self) -> Path:
        """The audit log (JSON lines, rotated)."""
        return self.data_dir / "audit.jsonl"

    @property
    def sources_path(self) -> Path:
        """SQLite file holding the registered source folders (``ingest.sources``)."""
        return self.data_dir / "sources.sqlite3"

    @property
    def jobs_path(self) -> Path:
        """SQLite file holding the upload jobs."""
        return self.data_dir / "jobs.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded files are stored, a folder per job."""
        return self.data_dir / "uploads"

    @property
    def auth_path(self) -> Path:
        """SQLite file holding the API keys (hashed)."""
        return self.data_dir / "auth.sqlite3"

    @property
    def index_path(self) -> Path:
        """SQLite file holding the manifest, chunk texts and the BM25 index."""
        return self.collection_dir / "index.sqlite3"


def load_settings(**overrides: object) -> Settings:
    """Settings from defaults, YAML and environment, with ``overrides`` on top."""
    from pydantic import ValidationError

    from rag.errors import ConfigurationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            ": ".join(
                part
                for part in (
                    ".".join(str(p) for p in e["loc"]),
                    e["msg"].removeprefix("Value error, "),
                )
                if part
            )
            for e in exc.errors()
        )
        raise ConfigurationError(
            f"invalid settings: {problems}",
            hint="check ragstead.yaml and RAGSTEAD_* environment variables",
        ) from exc


def make_folder(path: Path) -> None:
    """Create ``path`` and its parents; ConfigurationError, saying what to do, if it cannot be
    (a parent that is a file, no permission, a read-only disk)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from rag.errors import ConfigurationError

        raise ConfigurationError(
            f"cannot create the data directory {path}: {exc.strerror or exc}",
            hint="set RAGSTEAD_DATA_DIR (or --data-dir) to a folder this user may write",
        ) from exc
