"""Stop sequences applied to a stream of text pieces.

A stop sequence can arrive split across pieces ("</ans" then "wer>"), so the scanner holds
back the end of its buffer while it could still be the start of a stop sequence, and cuts the
text where the first stop sequence begins.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence


class StopScanner:
    """Feeds text pieces in, gets back the text that is safe to emit before any stop sequence."""

    def __init__(self, stop: Sequence[str]) -> None:
        self._stop = tuple(s for s in stop if s)
        self._buffer = ""
        #: True once a stop sequence was seen; later pieces are ignored.
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add a piece; return the text that can be emitted now ("" while holding back)."""
        if self.stopped:
            return ""
        self._buffer += piece
        if not self._stop:
            out, self._buffer = self._buffer, ""
            return out
        cut = min(
            (i for i in (self._buffer.find(s) for s in self._stop) if i >= 0),
            default=-1,
        )
        if cut >= 0:
            self.stopped = True
            out, self._buffer = self._buffer[:cut], ""
            return out
        keep = self._partial_match_length()
        out = self._buffer[: len(self._buffer) - keep]
        self._buffer = self._buffer[len(self._buffer) - keep :]
        return out

    def flush(self) -> str:
        """At the end of the stream: the held-back text (it did not become a stop sequence)."""
        out, self._buffer = ("" if self.stopped else self._buffer), ""
        return out

    def _partial_match_length(self) -> int:
        """Length of the longest buffer suffix that is a proper prefix of a stop sequence."""
        best = 0
        for s in self._stop:
            for n in range(min(len(s) - 1, len(self._buffer)), best, -1):
                if self._buffer.endswith(s[:n]):
                    best = n
                    break
        return best


def apply_stops(pieces: Iterator[str], stop: Sequence[str]) -> Iterator[str]:
    """Yield ``pieces`` cut at the first stop sequence (never ""); closes ``pieces`` when done."""
    scanner = StopScanner(stop)
    try:
        for piece in pieces:
            out = scanner.feed(piece)
            if out:
                yield out
            if scanner.stopped:
                return
        tail = scanner.flush()
        if tail:
            yield tail
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
