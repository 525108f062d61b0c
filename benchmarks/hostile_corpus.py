"""Bad inputs, generated: broken and hostile files, and malformed requests.

``bad_files(folder)`` writes files that must each be refused with a clear reason (or, for odd
names, indexed with the name made harmless), beside one good file that must stay answerable;
``bad_requests()`` lists requests to the query routes that must each get a 4xx in the JSON
error shape (or a normal answer), never a 5xx. Used by ``benchmarks/hostile_inputs.py`` and
``tests/api/test_hostile_corpus.py``.

Example::

    expected = bad_files(tmp / "in", big_bytes=2_000_000)
    for case in bad_requests(): ...
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GOOD_NAME = "handbook.md"
GOOD_TEXT = "# Leave\n\nFull-time staff receive 28 days of annual leave each year.\n"
GOOD_QUESTION = "How many days of annual leave do full-time staff receive?"
GOOD_FACT = "28 days"


def _pdf(text: str, *, encrypt: str | None = None) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=encrypt)
    pdf.drawString(72, 720, text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def understate(archive: bytes, member: str, declared: int) -> bytes:
    """``archive`` with the size ``member``'s headers (local and central) claim it inflates to
    rewritten to ``declared``: a zip that lies about its size."""
    data = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        info = opened.getinfo(member)
    size = declared.to_bytes(4, "little")
    data[info.header_offset + 22 : info.header_offset + 26] = size
    name = member.encode()
    central = data.rfind(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.rfind(b"PK\x01\x02", 0, central)
        if central < 0:
            raise ValueError(f"{member} has no central directory entry")
    data[central + 24 : central + 28] = size
    return bytes(data)


def _understated_bomb(inflated: int) -> bytes:
    """An OOXML zip whose payload inflates to ``inflated`` bytes while its headers say 1 KB."""
    members = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\0" * inflated}
    return understate(_zip(members), "word/document.xml", 1000)


def bad_files(folder: Path, *, big_bytes: int = 200_000_000) -> dict[str, str]:
    """Write the corpus into ``folder``: file name -> what must happen ("refused" or
    "indexed"). The good file is ``GOOD_NAME``; a symlink leads out of the folder."""
    from ingest.parsers._common import MAX_FILE_BYTES

    too_big = big_bytes > MAX_FILE_BYTES
    folder.mkdir(parents=True, exist_ok=True)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    nested = "<html><body>" + "<div>" * 50_000 + "Deep text." + "</div>" * 50_000 + "</body></html>"
    types, zeros = {"[Content_Types].xml": b"<Types/>"}, b"\0" * 60_000_000  # 60 MB in 60 KB
    files: dict[str, tuple[bytes, str]] = {
        GOOD_NAME: (GOOD_TEXT.encode(), "indexed"),
        "truncated.pdf": (_pdf("A report that was cut short.")[:300], "refused"),
        "encrypted.pdf": (_pdf("Secret figures.", encrypt="s3cret"), "refused"),
        "corrupt.pdf": (b"%PDF-1.7\n" + os.urandom(2048), "refused"),
        "empty.txt": (b"", "refused"),
        "image.pdf": (png, "refused"),
        "bomb.docx": (_zip({**types, "p.xml": zeros}), "refused"),
        "liar.xlsx": (_understated_bomb(60_000_000), "refused"),
        "bomb.pptx": (_zip({**types, "s.xml": zeros}), "refused"),
        "many.docx": (_zip({f"m{i}.xml": b"" for i in range(12_000)}), "refused"),
        "nested.html": (nested.encode(), "indexed"),
        "one-line.txt": (b"word " * (big_bytes // 5), "refused" if too_big else "indexed"),
        "latin1-invalid-utf8.txt": (b"Caf\xe9 \xff\xfe prices \xc3\x28 rise.", "indexed"),
        "name with\ncontrol \x1b[31mchars.txt": (b"The lift is on the left.", "indexed"),
    }  # fmt: skip
    expected = {}
    for name, (data, outcome) in files.items():
        (folder / name).write_bytes(data)
        expected[name] = outcome
    outside = folder.parent / f"{folder.name}-outside-secret.txt"
    outside.write_text("The vault code is 7741.")
    (folder / "link-out.txt").symlink_to(outside)
    expected["link-out.txt"] = "skipped"
    return expected


def traversal_names() -> list[str]:
    """Upload file names that try to leave the upload folder."""
    return ["../../etc/cron.d/evil.txt", "..\\..\\win.txt", "/etc/passwd.txt", ".hidden.txt"]


@dataclass
class BadRequest:
    """One malformed request to a query route."""

    name: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def bad_requests(big_question_bytes: int = 10_000_000) -> list[BadRequest]:
    """Malformed, oversized and out-of-range requests to the query routes."""
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"Message {i} about leave."}
        for i in range(1000)
    ]
    cases = [
        BadRequest("malformed JSON", "/v1/query", content=b'{"question": "leave?"',
                   headers={"Content-Type": "application/json"}),
        BadRequest("wrong content type", "/v1/query", content=b"question=leave",
                   headers={"Content-Type": "application/x-www-form-urlencoded"}),
        BadRequest("not JSON at all", "/v1/retrieve", content=os.urandom(512),
                   headers={"Content-Type": "application/json"}),
        BadRequest("10 MB question", "/v1/query", content=json.dumps(
            {"question": "a" * big_question_bytes}).encode(),
            headers={"Content-Type": "application/json"}),
        BadRequest("empty question", "/v1/query", json={"question": ""}),
        BadRequest("question is a number", "/v1/query", json={"question": 42}),
        BadRequest("lone surrogate", "/v1/retrieve", content=b'{"question": "leave \\ud800"}',
                   headers={"Content-Type": "application/json"}),
        BadRequest("1000-message chat history", "/v1/chat", json={"messages": history}),
        BadRequest("chat without messages", "/v1/chat", json={"messages": []}),
        BadRequest("unknown mode", "/v1/query", json={"question": "leave?", "mode": "rm -rf"}),
        BadRequest("unknown collection", "/v1/query",
                   json={"question": "leave?", "collection": "../../etc"}),
        BadRequest("filter glob bomb", "/v1/retrieve",
                   json={"question": "leave?", "filters": {"source": "*" * 5000}}),
        BadRequest("OpenAI request without messages", "/v1/chat/completions",
                   json={"model": "ragstead"}),
    ]  # fmt: skip
    for route in ("/v1/retrieve", "/v1/query"):
        for top_k in (0, -1, 10**9):
            cases.append(BadRequest(f"top_k {top_k} on {route}", route,
                                    json={"question": "leave?", "top_k": top_k}))  # fmt: skip
    return cases
