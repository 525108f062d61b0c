"""The one exception tree of Ragstead.

Third-party errors (Chroma, transformers, unstructured, HTTP clients) are translated into these
at the adapter that calls them; ``api/errors.py`` is the one place that maps them to HTTP status
codes.

    RagsteadError                  base of everything raised on purpose
    ├── ConfigurationError         a setting is invalid or names something that is not there
    │   └── ModelNotInstalledError a model package or directory is missing (says how to install)
    ├── InvalidRequestError        the caller asked for something malformed (empty question...)
    │   └── TooLargeError          a request, message or history over its size limit
    ├── AuthenticationError        no credentials, or ones that are invalid or expired (401)
    ├── PermissionDeniedError      a known caller without the scope or collection needed (403)
    ├── NotFoundError              a document, file or collection that does not exist
    ├── IngestError                one file could not be ingested (the run goes on)
    │   ├── UnsupportedFormatError the format is not supported (says what to convert to)
    │   └── ParseError             the file is corrupt, encrypted, empty or too large
    ├── StoreError                 the vector store or lexical index failed
    ├── EmbeddingError             the embedder failed (an embedding server's error, bad answer)
    ├── GenerationError            the generator failed (model error, server error)
    │   └── GeneratorTimeoutError  a model server did not answer in time
    └── RetryLaterError            try again after ``retry_after`` seconds (Retry-After)
        ├── BusyError              the generator queue or the upload slots are full (503)
        └── RateLimitedError       a caller over its request rate, or an address over its
                                   failed sign-ins (429)
"""

from __future__ import annotations


class RagsteadError(Exception):
    """Base class: every error Ragstead raises on purpose. ``hint`` says what to do about it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigurationError(RagsteadError):
    """A setting is invalid, or names a file, directory or server that is not there."""


class ModelNotInstalledError(ConfigurationError):
    """A model package or model directory is missing."""


class InvalidRequestError(RagsteadError):
    """The caller's request is malformed (empty question, bad filter...)."""


class TooLargeError(InvalidRequestError):
    """A request body, message or conversation is over its size limit."""


class AuthenticationError(RagsteadError):
    """The request carries no credentials, or invalid, revoked or expired ones."""


class PermissionDeniedError(RagsteadError):
    """The caller is known but lacks the scope or collection the request needs."""


class NotFoundError(RagsteadError):
    """A document, file or other named thing does not exist."""


class IngestError(RagsteadError):
    """One file could not be ingested; the run reports it and goes on."""


class UnsupportedFormatError(IngestError):
    """The file's format is not supported."""


class ParseError(IngestError):
    """The file could not be parsed: corrupt, encrypted, empty, truncated or too large."""


class StoreError(RagsteadError):
    """The vector store or the lexical index failed."""


class EmbeddingError(RagsteadError):
    """The embedder failed: an embedding server answered with an error or not at all."""


class GenerationError(RagsteadError):
    """The generator failed."""


class GeneratorTimeoutError(GenerationError):
    """A model server did not answer in time."""


class RetryLaterError(RagsteadError):
    """Refused for now; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int = 5, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class BusyError(RetryLaterError):
    """The generator's queue or the upload slots are full."""


class RateLimitedError(RetryLaterError):
    """Too many requests from one caller (or failed sign-ins from one address)."""
