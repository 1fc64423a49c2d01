"""The upload trigger against in-memory fakes: an object nobody asked for is deleted, a bad upload is rejected
and deleted, a good one is marked ready with its format and pages; S3's repeated deliveries are harmless."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote_plus

import pytest

from snapscribe.config import Settings
from snapscribe.operations.upload_events import CheckResult, check_upload
from snapscribe.storage.uploads import PENDING, READY, REJECTED, UploadRecord
from tests.conftest import pdf_with_pages
from tests.fakes import MB, FakeUploadStore, Uploads, image_bytes, make_settings, tiff_pages


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "work", max_pages_per_file=3)


@pytest.fixture
def store() -> Uploads:
    return Uploads()


def pending(store: Uploads, data: bytes | None, filename: str = "scan.png") -> UploadRecord:
    """What the upload-url operation leaves, after the client posted `data`."""
    return store.add("alice", data, filename=filename, status=PENDING, pages=0, max_bytes=1 * MB)


def check(key: str, store: Uploads, settings: Settings) -> CheckResult:
    return check_upload(key, uploads=store.uploads, objects=store.objects, settings=settings)


def status_of(store: Uploads, record: UploadRecord) -> tuple[str, str, str, int, int]:
    now = store.uploads.get(record.user_id, record.upload_id)
    assert now is not None
    return now.status, now.reason, now.image_format, now.size, now.pages


@pytest.mark.parametrize(
    ("data", "filename", "image_format", "pages"),
    [
        (image_bytes(40, 20), "scan.png", "PNG", 1),
        (image_bytes(40, 20, fmt="JPEG"), "photo.jpg", "JPEG", 1),
        (tiff_pages([21, 22, 23]), "report.tiff", "TIFF", 3),
        (pdf_with_pages(2), "report.pdf", "PDF", 2),
    ],
    ids=["png", "jpeg", "tiff", "pdf"],
)
def test_a_good_upload_is_ready_with_its_format_and_pages(
    data: bytes, filename: str, image_format: str, pages: int, store: Uploads, settings: Settings
) -> None:
    record = pending(store, data, filename)
    assert check(record.key, store, settings) == CheckResult(record.key, "ready")
    assert status_of(store, record) == (READY, "", image_format, len(data), pages)
    assert store.objects.objects == {record.key: data}
    assert store.objects.deleted == []


def test_event_keys_arrive_url_encoded(store: Uploads, settings: Settings) -> None:
    record = pending(store, image_bytes(), "my scan (1).png")
    assert check(quote_plus(record.key, safe="/"), store, settings) == CheckResult(record.key, "ready")
    assert status_of(store, record)[0] == READY


@pytest.mark.parametrize("key", ["tmp/request-1/page.png", "results/alice/x.json", "other/ocr/alice/x.png"])
def test_objects_outside_the_upload_prefix_are_ignored(key: str, store: Uploads, settings: Settings) -> None:
    store.objects.put(key, b"anything")
    assert check(key, store, settings) == CheckResult(key, "ignored")
    assert store.objects.objects == {key: b"anything"}


def test_objects_nobody_asked_for_are_deleted(store: Uploads, settings: Settings) -> None:
    record = pending(store, image_bytes())
    bobs = store.add("bob", image_bytes(), status=PENDING, pages=0)
    strangers = [
        "ocr/alice/scan.png",  # no upload id in the name
        record.key.replace("scan.png", "other.png"),  # the right id, another name
        bobs.key.replace("ocr/bob/", "ocr/alice/"),  # bob's id under alice
        f"ocr/alice/{'0' * 8}-0000-0000-0000-{'0' * 12}-x.png",  # an id never issued
        "ocr/alice/../bob/x.png",  # not a key this service makes
    ]
    for key in strangers:
        store.objects.put(key, b"dropped here")
        assert check(key, store, settings) == CheckResult(key, "unknown-deleted")
    assert store.objects.deleted == strangers
    assert set(store.objects.objects) == {record.key, bobs.key}
    assert status_of(store, record)[0] == PENDING
    assert status_of(store, bobs)[0] == PENDING


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "The file is empty"),
        (b"\0" * (MB + 1), "The file is larger than the 1 MB upload limit"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "The PNG image is corrupt and cannot be parsed"),
        (b"just some text, no image", "The file is not an image in a supported format"),
        (tiff_pages([21, 22, 23, 24]), "The file has 4 pages; at most 3 are processed"),
    ],
    ids=["empty", "too-big", "corrupt", "not-an-image", "too-many-pages"],
)
def test_a_bad_upload_is_rejected_and_deleted(data: bytes, reason: str, store: Uploads, settings: Settings) -> None:
    record = pending(store, data)
    assert check(record.key, store, settings) == CheckResult(record.key, "rejected", reason)
    assert status_of(store, record)[:2] == (REJECTED, reason)
    assert store.objects.objects == {}
    assert store.objects.deleted == [record.key]


def test_a_repeated_delivery_of_a_good_upload_changes_nothing(store: Uploads, settings: Settings) -> None:
    record = pending(store, image_bytes(40, 20))
    first = check(record.key, store, settings)
    after_first = status_of(store, record)
    assert check(record.key, store, settings) == first == CheckResult(record.key, "ready")
    assert status_of(store, record) == after_first
    assert store.objects.deleted == []


def test_a_rejected_upload_stays_rejected_with_its_first_reason(store: Uploads, settings: Settings) -> None:
    record = pending(store, b"")
    check(record.key, store, settings)
    assert check(record.key, store, settings) == CheckResult(record.key, "rejected", "The file is empty")
    store.objects.put(record.key, image_bytes())  # a good file posted again through the same presigned POST
    assert check(record.key, store, settings) == CheckResult(record.key, "rejected", "The file is empty")
    assert status_of(store, record)[:2] == (REJECTED, "The file is empty")
    assert store.objects.objects == {}


def test_a_ready_upload_replaced_by_a_bad_file_is_rejected(store: Uploads, settings: Settings) -> None:
    record = pending(store, image_bytes())
    check(record.key, store, settings)
    store.objects.put(record.key, b"not an image any more")
    assert check(record.key, store, settings).outcome == "rejected"
    assert status_of(store, record)[0] == REJECTED
    assert store.objects.objects == {}


def test_an_object_gone_before_its_check_leaves_the_record_alone(store: Uploads, settings: Settings) -> None:
    record = pending(store, None)
    assert check(record.key, store, settings) == CheckResult(record.key, "gone")
    assert status_of(store, record)[0] == PENDING
    assert store.objects.deleted == []


def test_the_fake_upload_store_keeps_the_protocols_transitions() -> None:
    """What the checks above rely on: ready may be repeated, rejected is final, a missing record fails."""
    uploads = FakeUploadStore()
    record = Uploads(uploads=uploads).add("alice", None, status=PENDING, pages=0)
    assert uploads.mark_ready("alice", record.upload_id, image_format="PNG", size=3, pages=1)
    assert uploads.mark_ready("alice", record.upload_id, image_format="TIFF", size=5, pages=2)  # a replaced object
    assert uploads.mark_rejected("alice", record.upload_id, reason="corrupt")
    assert not uploads.mark_rejected("alice", record.upload_id, reason="again")
    assert not uploads.mark_ready("alice", record.upload_id, image_format="PNG", size=3, pages=1)
    assert status_of(Uploads(uploads=uploads), record) == (REJECTED, "corrupt", "TIFF", 5, 2)
    assert not uploads.mark_ready("bob", record.upload_id, image_format="PNG", size=3, pages=1)
    assert not uploads.mark_rejected("alice", "no-such-upload", reason="x")


def test_a_check_that_loses_the_race_to_a_rejection_reports_it_and_deletes_the_object(
    store: Uploads, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deliveries race (a replaced object): the other one rejects the upload between this one's read and
    its mark_ready. Rejected is final, so this check answers "rejected" and its object goes too."""
    record = pending(store, image_bytes(40, 20))
    read = store.objects.read

    def read_while_another_delivery_rejects(key: str, *, max_bytes: int) -> bytes | None:
        store.uploads.mark_rejected(record.user_id, record.upload_id, reason="The file is larger than allowed")
        return read(key, max_bytes=max_bytes)

    monkeypatch.setattr(store.objects, "read", read_while_another_delivery_rejects)
    result = check(record.key, store, settings)
    assert result == CheckResult(record.key, "rejected", "The file is larger than allowed")
    assert status_of(store, record)[:2] == (REJECTED, "The file is larger than allowed")
    assert record.key not in store.objects.objects
