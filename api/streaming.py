"""Server-sent events for answers: ``token`` events as the answer is written, then ``answer``.

Event order on the wire::

    event: token      data: {"text": "Full-time"}        (one or more)
    event: answer     data: {the same JSON as a non-streaming response}
or, when something fails after the first token:
    event: error      data: {"error": {"type", "message", "hint"}, "status": 502}

The first piece is read before the response starts, so a failure before any token (a full
generator queue, an unreachable model server) is an ordinary HTTP error (503, 502...). The
``answer`` event is authoritative: its text has markers that pointed at nothing removed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

from fastapi.responses import StreamingResponse

from api.errors import error_payload
from api.source_view import SourceView
from rag.assistant import AnswerStream

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(event: str, data: object) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_events(
    stream: AnswerStream, first: list[str], view: SourceView | None = None
) -> Iterator[str]:
    """The events of one answer (``first``: pieces already read from the stream; ``view``: how
    the caller sees sources)."""
    try:
        for piece in itertools.chain(first, stream):
            yield sse_event("token", {"text": piece})
        answer = stream.answer
        if answer is not None:
            yield sse_event("answer", (view or SourceView()).answer(answer).to_dict())
    except Exception as exc:  # the status line is sent: the failure becomes an event
        yield sse_event("error", error_payload(exc))
    finally:
        stream.close()


def prefetch(stream: AnswerStream) -> list[str]:
    """The first piece of the answer (none if it is empty); errors before it are raised here."""
    try:
        return [next(stream)]
    except StopIteration:
        return []
    except BaseException:
        stream.close()
        raise


def sse_response(stream: AnswerStream, view: SourceView | None = None) -> StreamingResponse:
    """A streaming response for ``stream``; errors before the first piece are raised here."""
    first = prefetch(stream)
    return StreamingResponse(
        answer_events(stream, first, view), media_type="text/event-stream", headers=SSE_HEADERS
    )
