"""POST /v1/documents (upload, 202 with a job) and GET /v1/jobs, /v1/jobs/{id}.

Files stream to disk (Starlette spools each part, then it is copied in 1 MiB pieces with the
size limit checked as it goes) under a folder the server names; a bad file refuses the whole
upload with its reason and stores nothing. A job belongs to the principal that made it:
another caller's job answers 404 (admins see all).
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile

from api.auth.principal import Principal
from api.deps import ContainerDep, PrincipalDep, ReaderDep, StateDep
from api.jobs import JobFile
from api.schemas import JobAccepted, JobList, JobOut
from api.state import AppState
from api.uploads import check_content, check_suffix, safe_name
from rag.collections import check_name
from rag.container import Container
from rag.errors import BusyError, InvalidRequestError, TooLargeError

router = APIRouter(prefix="/v1", tags=["documents"])
_PIECE = 1 << 20
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"

UPLOAD_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "collection": {"type": "string", "default": "default"},
                        "groups": {"type": "string", "description": "comma-separated"},
                        "metadata": {"type": "string", "description": "a JSON object of labels"},
                    },
                }
            }
        },
    }
}


def _owner(principal: Principal) -> str:
    return f"{principal.kind}:{principal.name}"


def _groups(text: str | None, principal: Principal) -> list[str]:
    groups = sorted({g.strip() for g in (text or "").split(",") if g.strip()})
    bad = [g for g in groups if not re.fullmatch(_NAME, g)]
    if bad:
        raise InvalidRequestError(f"bad group names: {', '.join(bad)}")
    outside = set(groups) - principal.groups
    if outside and not principal.is_admin:
        raise InvalidRequestError(
            "an upload may only be given groups its sender belongs to"
            f" (not: {', '.join(sorted(outside))})",
            hint="an admin key can set any groups",
        )
    return groups


def _labels(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidRequestError("metadata is not JSON", hint='e.g. {"site": "leeds"}') from exc
    if not isinstance(data, dict) or len(data) > 64:
        raise InvalidRequestError("metadata must be a JSON object of at most 64 keys")
    labels = {}
    for key, value in data.items():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", str(key)):
            raise InvalidRequestError(f"bad metadata key {key!r}")
        if not isinstance(value, str | int | float | bool) or len(str(value)) > 200:
            raise InvalidRequestError(f"metadata {key!r} must be a short string or number")
        labels[str(key)] = str(value)
    return labels


@router.post("/documents", status_code=202, response_model=JobAccepted, openapi_extra=UPLOAD_SCHEMA)
async def upload(
    request: Request, principal: PrincipalDep, container: ContainerDep, state: StateDep
) -> JobAccepted:
    """Upload files to index; 202 with the job that ingests them (GET /v1/jobs/{job_id})."""
    principal.require("write")
    api = container.settings.api
    if state.uploads_in_flight >= api.max_concurrent_uploads:
        raise BusyError(
            f"{state.uploads_in_flight} uploads are being received; try again shortly",
            retry_after=5,
            hint="api.max_concurrent_uploads bounds uploads at once",
        )
    state.uploads_in_flight += 1
    try:
        return await _receive(request, principal, container, state)
    finally:
        state.uploads_in_flight -= 1


async def _receive(
    request: Request, principal: Principal, container: Container, state: AppState
) -> JobAccepted:
    api = container.settings.api
    form = await request.form(max_files=api.upload_max_files, max_fields=16)
    try:
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not files:
            raise InvalidRequestError("no files in the upload", hint="send them as 'files' parts")
        collection = check_name(str(form.get("collection") or "default"))
        state.container_for(collection, principal)  # exists, and the caller may use it
        groups = _groups(str(form.get("groups") or ""), principal)
        labels = _labels(str(form.get("metadata") or ""))
        job_id = uuid.uuid4().hex
        folder = (container.settings.uploads_dir / job_id).resolve()
        folder.mkdir(parents=True)
        try:
            stored = [await _store(f, folder, api.upload_max_file_bytes) for f in files]
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    finally:
        await form.close()
    job = state.jobs.create(
        owner=_owner(principal),
        files=stored,
        groups=groups,
        labels=labels,
        job_id=job_id,
        collection=collection,
    )
    state.runner.submit(job.id)
    return JobAccepted(job_id=job.id, status=job.status)


async def _store(upload: UploadFile, folder: Any, limit: int) -> JobFile:
    name = safe_name(upload.filename or "document")
    check_suffix(name)
    stem, dot, suffix = name.rpartition(".")
    target, n = folder / name, 1
    while target.exists():  # two files of one name in one upload
        n += 1
        target = folder / f"{stem}-{n}{dot}{suffix}"
    size = 0
    with target.open("xb") as out:
        while piece := await upload.read(_PIECE):
            size += len(piece)
            if size > limit:
                raise TooLargeError(
                    f"{name} is over the {limit:,}-byte limit for one file",
                    hint="raise api.upload_max_file_bytes, or split the file",
                )
            out.write(piece)
    check_content(target, name)
    return JobFile(name=target.name, path=str(target), size=size)


@router.get("/jobs", response_model=JobList)
def list_jobs(state: StateDep, principal: ReaderDep, limit: int = 50) -> JobList:
    """Your jobs, newest first (every job for an admin)."""
    owner = None if principal.is_admin else _owner(principal)
    return JobList(
        jobs=[JobOut(**j.public()) for j in state.jobs.recent(owner, min(max(limit, 1), 500))]
    )


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, state: StateDep, principal: ReaderDep) -> JobOut:
    """One job: status, progress and each file's result."""
    owner = None if principal.is_admin else _owner(principal)
    return JobOut(**state.jobs.get(job_id, owner).public())
