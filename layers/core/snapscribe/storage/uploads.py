"""Upload records: who owns an upload, and whether the S3 trigger found it good."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

PENDING, READY, REJECTED = "pending", "ready", "rejected"


@dataclass(frozen=True)
class UploadRecord:
    upload_id: str
    user_id: str
    key: str
    filename: str
    content_type: str
    max_bytes: int
    created_at: str
    expires_at: int
    status: str = PENDING
    reason: str = ""
    image_format: str = ""
    size: int = 0
    pages: int = 0


class UploadStore(Protocol):
    def create(self, record: UploadRecord) -> None: ...

    def get(self, user_id: str, upload_id: str) -> UploadRecord | None: ...

    def mark_ready(self, user_id: str, upload_id: str, *, image_format: str, size: int, pages: int) -> bool:
        """Pending (or ready: a replaced object) -> ready; False once rejected."""
        ...

    def mark_rejected(self, user_id: str, upload_id: str, *, reason: str) -> bool:
        """Pending or ready -> rejected (final); False when already rejected."""
        ...

    def delete(self, user_id: str, upload_id: str) -> None: ...


class ObjectStore(Protocol):
    def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> tuple[str, dict[str, str]]: ...

    def size_of(self, key: str) -> int | None: ...

    def read(self, key: str, *, max_bytes: int) -> bytes | None: ...

    def delete(self, key: str) -> None: ...

    def presigned_get(self, key: str, *, expires_in: int) -> str: ...

    def put_json(self, key: str, document: dict[str, object]) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get_json(self, key: str) -> dict[str, object] | None: ...

    def keys_older_than(self, prefix: str, age_seconds: int) -> list[str]: ...
