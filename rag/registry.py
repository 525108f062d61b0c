"""Factories by settings ``kind``: how each seam's implementation is chosen.

An implementation registers a factory under a kind; the settings name the kind. A kind of the
form ``package.module:name`` imports ``package.module`` first (where ``name`` is registered),
so a company's own embedder, store or generator is one module of its own and one setting,
with no change to Ragstead.

Example::

    GENERATORS = Registry[Generator]("generator")

    @GENERATORS.register("echo")
    def _echo(settings: Settings) -> Generator:
        return EchoGenerator()

    generator = GENERATORS.build("echo", settings)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from rag.errors import ConfigurationError

if TYPE_CHECKING:
    from rag.settings import Settings

T = TypeVar("T")


class Registry(Generic[T]):
    """Named factories ``factory(settings) -> T`` for one seam."""

    def __init__(self, seam: str) -> None:
        self.seam = seam
        self._factories: dict[str, Callable[[Settings], T]] = {}

    def register(self, kind: str) -> Callable[[Callable[[Settings], T]], Callable[[Settings], T]]:
        """Decorator: ``factory`` builds this seam when the settings name ``kind``."""

        def decorate(factory: Callable[[Settings], T]) -> Callable[[Settings], T]:
            self._factories[kind] = factory
            return factory

        return decorate

    def kinds(self) -> tuple[str, ...]:
        """The registered kinds."""
        return tuple(sorted(self._factories))

    def build(self, kind: str, settings: Settings) -> T:
        """The implementation for ``kind`` (``module:name`` imports ``module`` first)."""
        if kind not in self._factories and ":" in kind:
            module, _, _ = kind.partition(":")
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise ConfigurationError(
                    f"cannot import {module!r} for {self.seam} kind {kind!r}: {exc}",
                    hint="install the package that provides it, or fix the name",
                ) from exc
        factory = self._factories.get(kind)
        if factory is None:
            raise ConfigurationError(
                f"unknown {self.seam} kind {kind!r}",
                hint=f"use one of {', '.join(self.kinds())}, or module:name of your own",
            )
        return factory(settings)
