"""The file-upload operations against in-memory fakes: a presigned POST for a supported, not too large file
under a sanitised name, a pending record for it; deleting one's own upload, and only one's own."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from snapscribe.config import Settings
from snapscribe.contracts.file_upload import UploadUrlRequest, UploadUrlResponse
from snapscribe.errors import InvalidRequest, LimitExceeded, NotFound, UnsupportedImageFormat
from snapscribe.operations.file_upload import create_upload_url, delete_upload
from snapscribe.storage.keys import parse_upload_key
from snapscribe.storage.uploads import PENDING, UploadRecord
from tests.fakes import MB, NOW, Clock, Uploads, make_caller, make_settings, raised

ALICE = make_caller("alice")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path / "work", max_upload_bytes=5 * MB, upload_url_expiry_seconds=600, upload_retention_days=2
    )


@pytest.fixture
def store() -> Uploads:
    return Uploads()


def ask(
    store: Uploads,
    settings: Settings,
    filename: str = "scan.png",
    content_type: str = "image/png",
    size: int | None = None,
) -> UploadUrlResponse:
    request = UploadUrlRequest(filename=filename, contentType=content_type, size=size)
    return create_upload_url(
        request, ALICE, uploads=store.uploads, objects=store.objects, settings=settings, clock=Clock(NOW)
    )


def test_an_upload_url_is_for_one_key_of_the_caller_with_a_pending_record(store: Uploads, settings: Settings) -> None:
    response = ask(store, settings, content_type="Image/PNG; charset=binary", size=5 * MB)
    parsed = parse_upload_key(response.key)
    assert (parsed.user_id, parsed.upload_id, parsed.name) == ("alice", response.uuid, f"{response.uuid}-scan.png")
    assert (response.maxBytes, response.expiresAt) == (5 * MB, "2023-11-14T22:23:20Z")  # NOW + 600 s
    assert (response.uploadUrl, response.fields["key"]) == ("https://fake-bucket.example/", response.key)
    assert store.objects.posts == [
        {"key": response.key, "content_type": "image/png", "max_bytes": 5 * MB, "expires_in": 600}
    ]
    assert store.uploads.records == {
        ("alice", response.uuid): UploadRecord(
            upload_id=response.uuid,
            user_id="alice",
            key=response.key,
            filename="scan.png",
            content_type="image/png",
            max_bytes=5 * MB,
            created_at="2023-11-14T22:13:20Z",
            expires_at=int(NOW) + 2 * 86400,
            status=PENDING,
        )
    }
    assert store.objects.objects == {}  # nothing is stored until the client posts the file


def test_every_upload_gets_its_own_id(store: Uploads, settings: Settings) -> None:
    first, second = ask(store, settings), ask(store, settings)
    assert first.uuid != second.uuid
    assert len(store.uploads.records) == 2


@pytest.mark.parametrize("content_type", ["text/plain", "image/svg+xml", "application/octet-stream", "image/png2"])
def test_unsupported_content_types_are_refused(content_type: str, store: Uploads, settings: Settings) -> None:
    error = raised(UnsupportedImageFormat, lambda: ask(store, settings, content_type=content_type))
    assert error.message.startswith(f"Unsupported contentType {content_type!r}")
    assert (store.uploads.records, store.objects.posts) == ({}, [])


@pytest.mark.parametrize("content_type", ["application/pdf", "image/tiff", "image/heic", "image/jpg"])
def test_documents_and_every_readable_image_type_are_accepted(
    content_type: str, store: Uploads, settings: Settings
) -> None:
    ask(store, settings, content_type=content_type)
    assert [record.content_type for record in store.uploads.records.values()] == [content_type]


def test_a_file_over_the_upload_limit_is_refused(store: Uploads, settings: Settings) -> None:
    error = raised(LimitExceeded, lambda: ask(store, settings, size=5 * MB + 1))
    assert error.message == "The file is larger than the 5 MB upload limit"
    assert (store.uploads.records, store.objects.posts) == ({}, [])


@pytest.mark.parametrize("size", [0, -1])
def test_a_size_that_is_not_positive_is_invalid(size: int, store: Uploads, settings: Settings) -> None:
    error = raised(InvalidRequest, lambda: ask(store, settings, size=size))
    assert type(error) is InvalidRequest  # not "too large"
    assert store.uploads.records == {}


@pytest.mark.parametrize(
    ("filename", "safe"),
    [
        ("résumé scan?.png", "resume scan_.png"),
        ("  invoice  (final)  .pdf ", "invoice (final) .pdf"),
        ("日本語.png", "file.png"),
    ],
)
def test_file_names_are_sanitised_into_the_key(filename: str, safe: str, store: Uploads, settings: Settings) -> None:
    response = ask(store, settings, filename=filename)
    assert response.key == f"ocr/alice/{response.uuid}-{safe}"
    assert store.uploads.records[("alice", response.uuid)].filename == safe


@pytest.mark.parametrize(
    "filename",
    ["../etc/passwd", "a/b.png", "a\\b.png", ".hidden", "bad\x00name.png", "x" * 201],
    ids=["parent", "slash", "backslash", "dotfile", "control", "too-long"],
)
def test_names_that_try_to_be_paths_or_are_unsafe_are_refused(
    filename: str, store: Uploads, settings: Settings
) -> None:
    raised(InvalidRequest, lambda: ask(store, settings, filename=filename))
    assert (store.uploads.records, store.objects.posts) == ({}, [])


def test_deleting_an_upload_removes_its_object_and_record(store: Uploads) -> None:
    mine = store.add("alice", b"the file")
    kept = store.add("alice", b"another file")
    deleted = delete_upload(ALICE, mine.upload_id.upper(), uploads=store.uploads, objects=store.objects)
    assert deleted.model_dump() == {"uuid": mine.upload_id, "key": mine.key, "deleted": True}
    assert store.objects.objects == {kept.key: b"another file"}
    assert list(store.uploads.records) == [("alice", kept.upload_id)]
    with pytest.raises(NotFound):  # a second delete finds nothing
        delete_upload(ALICE, mine.upload_id, uploads=store.uploads, objects=store.objects)


def test_another_users_upload_is_not_found_and_stays(store: Uploads) -> None:
    bobs = store.add("bob", b"bob's file")
    with pytest.raises(NotFound) as caught:
        delete_upload(ALICE, bobs.upload_id, uploads=store.uploads, objects=store.objects)
    assert caught.value.message == "File not found"
    assert store.objects.objects == {bobs.key: b"bob's file"}
    assert store.objects.deleted == []
    assert list(store.uploads.records) == [("bob", bobs.upload_id)]


@pytest.mark.parametrize("upload_id", ["not-a-uuid", "", "../" + str(uuid.UUID(int=1)), str(uuid.UUID(int=7))])
def test_malformed_or_unknown_ids_are_not_found(upload_id: str, store: Uploads) -> None:
    store.add("alice", b"the file")
    with pytest.raises(NotFound):
        delete_upload(ALICE, upload_id, uploads=store.uploads, objects=store.objects)
    assert store.objects.deleted == []
