"""The file-upload API: a presigned POST into the private bucket, and deleting one's own upload."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from snapscribe.caller import Caller
from snapscribe.config import Settings
from snapscribe.contracts.file_upload import UPLOAD_CONTENT_TYPES, DeletedUpload, UploadUrlRequest, UploadUrlResponse
from snapscribe.errors import InvalidRequest, LimitExceeded, NotFound, UnsupportedImageFormat
from snapscribe.storage.keys import sanitise_filename, upload_key
from snapscribe.storage.uploads import ObjectStore, UploadRecord, UploadStore

MB = 1024 * 1024


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def create_upload_url(
    request: UploadUrlRequest,
    caller: Caller,
    *,
    uploads: UploadStore,
    objects: ObjectStore,
    settings: Settings,
    clock: Callable[[], float] = time.time,
) -> UploadUrlResponse:
    content_type = request.contentType.split(";", 1)[0].strip().lower()
    if content_type not in UPLOAD_CONTENT_TYPES:
        supported = ", ".join(sorted(UPLOAD_CONTENT_TYPES))
        raise UnsupportedImageFormat(f"Unsupported contentType {request.contentType!r}; supported: {supported}")
    if request.size is not None and not 1 <= request.size <= settings.max_upload_bytes:
        if request.size < 1:
            raise InvalidRequest("size must be a positive number of bytes")
        raise LimitExceeded(f"The file is larger than the {settings.max_upload_bytes // MB} MB upload limit")
    filename = sanitise_filename(request.filename)
    upload_id = str(uuid.uuid4())
    key = upload_key(caller.user_id, upload_id, filename)
    now = clock()
    url, fields = objects.presigned_post(
        key,
        content_type=content_type,
        max_bytes=settings.max_upload_bytes,
        expires_in=settings.upload_url_expiry_seconds,
    )
    uploads.create(
        UploadRecord(
            upload_id=upload_id,
            user_id=caller.user_id,
            key=key,
            filename=filename,
            content_type=content_type,
            max_bytes=settings.max_upload_bytes,
            created_at=_iso(now),
            expires_at=int(now + settings.upload_retention_days * 86400),
        )
    )
    return UploadUrlResponse(
        uuid=upload_id,
        key=key,
        uploadUrl=url,
        fields=fields,
        expiresAt=_iso(now + settings.upload_url_expiry_seconds),
        maxBytes=settings.max_upload_bytes,
    )


def delete_upload(caller: Caller, upload_id: str, *, uploads: UploadStore, objects: ObjectStore) -> DeletedUpload:
    """Delete one's own upload now: the object and its record. Anyone else's is 'not found'."""
    try:
        upload_id = str(uuid.UUID(upload_id))
    except ValueError as error:
        raise NotFound() from error
    record = uploads.get(caller.user_id, upload_id)
    if record is None:
        raise NotFound()
    objects.delete(record.key)
    uploads.delete(caller.user_id, upload_id)
    return DeletedUpload(uuid=upload_id, key=record.key, deleted=True)
