"""Typed settings: defaults, then ``ragstead.yaml``, then ``RAGSTEAD_...`` environment variables.

Nested sections use ``__`` in environment variables, e.g. ``RAGSTEAD_GENERATOR__KIND=openai``.
The YAML file is ``$RAGSTEAD_CONFIG`` if set, else ``ragstead.yaml`` in the working directory.
The defaults run with no file and no network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


class EmbedderSettings(BaseModel):
    """Which sentence-transformers model embeds chunks and queries."""

    model_dir: Path | None = Field(None, description="model directory; None = embedded MiniLM")
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    batch_size: int = Field(32, ge=1)


class GeneratorSettings(BaseModel):
    """Which model writes answers: in-process transformers or an OpenAI-compatible server."""

    kind: Literal["transformers", "openai"] = "transformers"
    model_dir: Path | None = Field(None, description="transformers model dir; None = SmolLM2")
    base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. vLLM")
    model: str | None = None
    api_key: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    timeout_s: float = Field(120.0, gt=0)
    max_new_tokens: int = Field(160, ge=1)
    max_queue: int = Field(8, ge=0)


class StoreSettings(BaseModel):
    """Where vectors live: Chroma in the data directory, or a Chroma server."""

    chroma_host: str | None = Field(None, description="Chroma server host; None = local files")
    chroma_port: int = 8000
    collection: str = "ragstead"


class ChunkingSettings(BaseModel):
    """How documents are cut into chunks (token counts in the embedder's tokenizer)."""

    max_tokens: int = Field(200, ge=32, le=512)
    min_tokens: int = Field(40, ge=0)


class IngestSettings(BaseModel):
    """How ingestion runs: parse processes, time limits, embedding batches, default groups."""

    workers: int | None = Field(
        None, ge=0, description="parse processes; None = cores - 1 (at least 1); 0 = in-process"
    )
    parse_timeout_s: float = Field(300.0, gt=0, description="a file parsing longer fails")
    embed_batch: int = Field(256, ge=1, description="chunks embedded and written together")
    worker_nice: int = Field(10, ge=0, le=19, description="parse processes yield to the embedder")
    groups: list[str] = Field(default_factory=list, description="default access groups")


class RetrievalSettings(BaseModel):
    """How passages are found and fused."""

    top_k: int = Field(5, ge=1, le=100)
    dense_candidates: int = Field(50, ge=1)
    lexical_candidates: int = Field(50, ge=1)
    rrf_k: int = Field(60, ge=1)
    min_score: float = Field(0.0, ge=0.0, description="fused-score floor for 'not covered'")


class ApiSettings(BaseModel):
    """The HTTP server."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)


class Settings(BaseSettings):
    """All settings of one Ragstead process."""

    model_config = SettingsConfigDict(
        env_prefix="RAGSTEAD_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(Path(".ragstead"), description="everything the process writes")
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
    def chroma_dir(self) -> Path:
        """Local Chroma files."""
        return self.data_dir / "chroma"

    @property
    def index_path(self) -> Path:
        """SQLite file holding the manifest, chunk texts and the BM25 index."""
        return self.data_dir / "index.sqlite3"


def load_settings(**overrides: object) -> Settings:
    """Settings from defaults, YAML and environment, with ``overrides`` on top."""
    from pydantic import ValidationError

    from rag.errors import ConfigurationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(
            f"invalid settings: {problems}",
            hint="check ragstead.yaml and RAGSTEAD_* environment variables",
        ) from exc
