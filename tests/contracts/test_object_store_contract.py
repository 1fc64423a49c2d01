"""The ObjectStore contract: FakeObjectStore and S3ObjectStore (on moto, the template's FilesBucket) pass the same
tests: bytes and JSON documents in and out, reads capped as a Range read caps them, missing objects as None, the
keys older than an age under a prefix, and presigned links for a key.

What is not checkable here: whether a presigned POST's policy really holds the size range and the content type
(the fake's policy is a stand-in), and a link's signature. Two presigned GETs of one key made in the same second
are the same URL from S3; the fake's differ every time (tests/unit/test_operations_ocr_by_key.py relies on that),
so the contract leaves it open."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from snapscribe.storage.s3 import S3ObjectStore
from snapscribe.storage.uploads import ObjectStore
from tests.contracts.conftest import World
from tests.fakes import FakeObjectStore


@pytest.fixture(params=["fake", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    if request.param == "fake":
        return FakeObjectStore(clock=time.time)  # S3 stamps objects with the wall clock
    world: World = request.getfixturevalue("world")
    return S3ObjectStore(world.s3, world.bucket)


def test_bytes_are_read_back_with_their_size(store: ObjectStore) -> None:
    store.put_bytes("tmp/a.bin", b"0123456789", "image/png")
    assert store.size_of("tmp/a.bin") == 10
    assert store.read("tmp/a.bin", max_bytes=100) == b"0123456789"


def test_a_read_stops_one_byte_past_its_cap(store: ObjectStore) -> None:
    """bytes=0-max_bytes is inclusive: max_bytes + 1 bytes tell the caller the object is larger than its cap."""
    store.put_bytes("tmp/a.bin", b"0123456789")
    assert store.read("tmp/a.bin", max_bytes=3) == b"0123"
    assert store.read("tmp/a.bin", max_bytes=9) == b"0123456789"
    assert store.read("tmp/a.bin", max_bytes=0) == b"0"


def test_an_empty_object_is_read_as_no_bytes(store: ObjectStore) -> None:
    store.put_bytes("tmp/empty", b"")
    assert (store.size_of("tmp/empty"), store.read("tmp/empty", max_bytes=10)) == (0, b"")


def test_a_missing_object_is_none_to_every_read(store: ObjectStore) -> None:
    assert store.size_of("tmp/none") is None
    assert store.read("tmp/none", max_bytes=10) is None
    assert store.get_json("tmp/none") is None


def test_a_json_document_is_stored_as_utf8_json(store: ObjectStore) -> None:
    document: dict[str, object] = {"text": "سلام — héllo", "pages": [1, 2], "nested": {"ok": True, "none": None}}
    store.put_json("results/alice/r.json", document)
    assert store.get_json("results/alice/r.json") == document
    stored = store.read("results/alice/r.json", max_bytes=10_000)
    assert stored == json.dumps(document, ensure_ascii=False).encode("utf-8")


def test_bytes_that_are_json_are_read_as_a_document(store: ObjectStore) -> None:
    store.put_bytes("jobs/j/input.json", b'{"a": 1}', "application/json")
    assert store.get_json("jobs/j/input.json") == {"a": 1}


def test_an_object_written_again_is_replaced(store: ObjectStore) -> None:
    store.put_bytes("tmp/a", b"first version")
    store.put_bytes("tmp/a", b"second")
    assert (store.size_of("tmp/a"), store.read("tmp/a", max_bytes=100)) == (6, b"second")


def test_a_deleted_object_is_gone_and_deleting_again_is_fine(store: ObjectStore) -> None:
    store.put_bytes("tmp/a", b"x")
    store.put_bytes("tmp/b", b"y")
    store.delete("tmp/a")
    store.delete("tmp/a")
    store.delete("tmp/never")
    assert (store.size_of("tmp/a"), store.size_of("tmp/b")) == (None, 1)


def test_keys_older_than_an_age_are_those_under_the_prefix_written_before_it(store: ObjectStore) -> None:
    for key in ("tmp/r2/p1.png", "tmp/r1/p2.png", "tmp/r1/p1.png", "tmpfile/x", "ocr/alice/x", "tmp"):
        store.put_bytes(key, b"x")
    assert store.keys_older_than("tmp/", 3600) == []  # written just now
    # "Older than a minute from now" is everything written so far: S3's order (by key), the prefix's keys only.
    assert store.keys_older_than("tmp/", -60) == ["tmp/r1/p1.png", "tmp/r1/p2.png", "tmp/r2/p1.png"]
    assert store.keys_older_than("nothing/", -60) == []


def test_a_presigned_post_is_for_the_key_and_content_type_it_was_made_for(store: ObjectStore) -> None:
    url, fields = store.presigned_post("ocr/alice/u-1-scan.png", content_type="image/png", max_bytes=100, expires_in=60)
    assert url.startswith("https://")
    assert (fields["key"], fields["Content-Type"]) == ("ocr/alice/u-1-scan.png", "image/png")
    assert fields["policy"]
    assert all(isinstance(value, str) for value in fields.values())


@pytest.mark.parametrize("key", ["results/alice/r.json", "ocr/alice/u-1-my scan (1).png"])
def test_a_presigned_get_is_a_url_of_the_key_with_its_expiry(store: ObjectStore, key: str) -> None:
    url = store.presigned_get(key, expires_in=120)
    parts = urlsplit(url)
    assert " " not in url  # a URL: the key is quoted
    assert (parts.scheme, unquote(parts.path).endswith("/" + key)) == ("https", True)
    assert ["120"] in parse_qs(parts.query).values()
