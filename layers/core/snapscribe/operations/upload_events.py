"""The S3 trigger: check each new upload, and delete what is bad or was never asked for."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger

from snapscribe.config import Settings
from snapscribe.errors import InvalidFileKey, SnapscribeError
from snapscribe.images.prepare import page_count
from snapscribe.storage.keys import UPLOAD_PREFIX, parse_upload_key
from snapscribe.storage.uploads import REJECTED, ObjectStore, UploadStore

logger = Logger(child=True)
MB = 1024 * 1024


@dataclass(frozen=True)
class CheckResult:
    key: str
    outcome: str  # ready | rejected | unknown-deleted | gone | ignored
    reason: str = ""


def check_upload(raw_key: str, *, uploads: UploadStore, objects: ObjectStore, settings: Settings) -> CheckResult:
    """One ObjectCreated record. Safe to repeat: S3 delivers at least once."""
    key = unquote_plus(raw_key)  # S3 event keys arrive URL-encoded
    if not key.startswith(UPLOAD_PREFIX):
        return CheckResult(key, "ignored")
    try:
        parsed = parse_upload_key(key)
    except InvalidFileKey:
        parsed = None
    record = uploads.get(parsed.user_id, parsed.upload_id) if parsed and parsed.upload_id else None
    if parsed is None or record is None or record.key != key:
        # Nobody asked for this object (or its upload was deleted): it must not stay.
        objects.delete(key)
        return CheckResult(key, "unknown-deleted")
    if record.status == REJECTED:
        objects.delete(key)
        return CheckResult(key, "rejected", record.reason)

    def reject(reason: str) -> CheckResult:
        uploads.mark_rejected(record.user_id, record.upload_id, reason=reason)
        objects.delete(key)
        logger.info("upload rejected", extra={"upload_id": record.upload_id, "reason": reason})
        return CheckResult(key, "rejected", reason)

    size = objects.size_of(key)
    if size is None:
        return CheckResult(key, "gone")
    if size == 0:
        return reject("The file is empty")
    if size > record.max_bytes:
        return reject(f"The file is larger than the {record.max_bytes // MB} MB upload limit")
    data = objects.read(key, max_bytes=record.max_bytes)
    if data is None:
        return CheckResult(key, "gone")
    try:
        image_format, pages = page_count(data, max_pixels=settings.max_image_pixels)
    except SnapscribeError as error:
        return reject(error.message)
    if pages > settings.max_pages_per_file:
        return reject(f"The file has {pages} pages; at most {settings.max_pages_per_file} are processed")
    if not uploads.mark_ready(record.user_id, record.upload_id, image_format=image_format, size=size, pages=pages):
        # A concurrent delivery rejected it meanwhile (a replaced object): rejected is final.
        objects.delete(key)
        latest = uploads.get(record.user_id, record.upload_id)
        return CheckResult(key, "rejected", latest.reason if latest else "")
    logger.info("upload ready", extra={"upload_id": record.upload_id, "format": image_format, "pages": pages})
    return CheckResult(key, "ready")
