"""The UploadStore protocol in memory (snapscribe.storage.uploads), held to the DynamoDB adapter's behaviour by
tests/contracts/test_upload_store_contract.py."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from snapscribe.storage.uploads import PENDING, READY, REJECTED, UploadRecord


class FakeUploadStore:
    """The UploadStore protocol in memory, with the DynamoDB adapter's conditions: a record is created once, under
    its owner, with what the upload-url operation knows (what the trigger finds comes with the transitions);
    pending or ready -> ready or rejected; rejected is final; a transition of a missing record fails like a
    conditional write."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], UploadRecord] = {}
        self.lock = threading.Lock()

    def create(self, record: UploadRecord) -> None:
        with self.lock:
            if (record.user_id, record.upload_id) in self.records:
                raise ValueError(f"upload {record.upload_id} exists already")  # attribute_not_exists(pk)
            # The adapter writes neither the reason nor the format, size or pages: they are the trigger's.
            self.records[(record.user_id, record.upload_id)] = replace(
                record, reason="", image_format="", size=0, pages=0
            )

    def get(self, user_id: str, upload_id: str) -> UploadRecord | None:
        return self.records.get((user_id, upload_id))

    def _transition(self, user_id: str, upload_id: str, **changes: Any) -> bool:
        with self.lock:
            record = self.records.get((user_id, upload_id))
            if record is None or record.status not in (PENDING, READY):
                return False
            self.records[(user_id, upload_id)] = replace(record, **changes)
            return True

    def mark_ready(self, user_id: str, upload_id: str, *, image_format: str, size: int, pages: int) -> bool:
        return self._transition(user_id, upload_id, status=READY, image_format=image_format, size=size, pages=pages)

    def mark_rejected(self, user_id: str, upload_id: str, *, reason: str) -> bool:
        return self._transition(user_id, upload_id, status=REJECTED, reason=reason)

    def delete(self, user_id: str, upload_id: str) -> None:
        with self.lock:
            self.records.pop((user_id, upload_id), None)
