"""The ObjectStore protocol in memory (snapscribe.storage.uploads), held to the S3 adapter's behaviour by
tests/contracts/test_object_store_contract.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from tests.fakes.clock import Clock

FAKE_BUCKET_URL = "https://fake-bucket.example"


class FakeObjectStore:
    """The ObjectStore protocol in memory: key -> bytes (JSON documents are stored as UTF-8 JSON, as S3
    would), each with the time it was written; presigned URLs are fakes of the key (quoted as in S3's), a GET's
    different at every call (S3's differ from one second to the next)."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.objects: dict[str, bytes] = {}
        self.written_at: dict[str, float] = {}
        self.deleted: list[str] = []  # every delete call, in order (deleting a missing key is not an error)
        self.posts: list[dict[str, Any]] = []
        self.clock = clock or Clock()
        self.lock = threading.Lock()
        self._links = 0

    def put(self, key: str, data: bytes, *, age_seconds: float = 0.0) -> None:
        """Store an object (what a client's upload or another function would write), `age_seconds` old."""
        with self.lock:
            self.objects[key] = data
            self.written_at[key] = self.clock() - age_seconds

    def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> tuple[str, dict[str, str]]:
        self.posts.append({"key": key, "content_type": content_type, "max_bytes": max_bytes, "expires_in": expires_in})
        return f"{FAKE_BUCKET_URL}/", {"key": key, "Content-Type": content_type, "policy": f"fake-{max_bytes}"}

    def size_of(self, key: str) -> int | None:
        data = self.objects.get(key)
        return None if data is None else len(data)

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        data = self.objects.get(key)
        return None if data is None else data[: max_bytes + 1]  # S3's Range: bytes=0-max_bytes is inclusive

    def delete(self, key: str) -> None:
        with self.lock:
            self.deleted.append(key)
            self.objects.pop(key, None)
            self.written_at.pop(key, None)

    def presigned_get(self, key: str, *, expires_in: int) -> str:
        with self.lock:
            self._links += 1  # each link is new, as a real signature (with its timestamp) would be
            # The key quoted as botocore quotes it in a URL's path.
            return f"{FAKE_BUCKET_URL}/{quote(key, safe='/~')}?expires={expires_in}&link={self._links}"

    def put_json(self, key: str, document: dict[str, object]) -> None:
        self.put(key, json.dumps(document, ensure_ascii=False).encode("utf-8"))

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.put(key, data)

    def get_json(self, key: str) -> dict[str, object] | None:
        data = self.objects.get(key)
        if data is None:
            return None
        document: dict[str, object] = json.loads(data)
        return document

    def keys_older_than(self, prefix: str, age_seconds: int) -> list[str]:
        cutoff = self.clock() - age_seconds
        return sorted(key for key, at in self.written_at.items() if key.startswith(prefix) and at < cutoff)
