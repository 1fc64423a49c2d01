"""The UploadStore contract: FakeUploadStore and DynamoUploadStore (on moto, the template's AccountsTable) pass the
same tests: a record is created once, under its owner, with the expiry the table's TTL deletes it by; it goes
pending or ready -> ready or rejected, and rejected is final."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from botocore.exceptions import ClientError

from snapscribe.storage.dynamodb import DynamoUploadStore
from snapscribe.storage.uploads import READY, REJECTED, UploadRecord, UploadStore
from tests.contracts.conftest import World
from tests.fakes import FakeUploadStore


@dataclass
class Subject:
    store: UploadStore
    conflict: type[Exception]  # what a write refused by its condition raises
    expiry: Callable[[str, str], int | None]  # the record's expiresAt (the table's TTL attribute), as stored


@pytest.fixture(params=["fake", "dynamodb"])
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "fake":
        fake = FakeUploadStore()

        def fake_expiry(user_id: str, upload_id: str) -> int | None:
            record = fake.records.get((user_id, upload_id))
            return record.expires_at if record else None

        return Subject(fake, ValueError, fake_expiry)
    world: World = request.getfixturevalue("world")

    def expiry(user_id: str, upload_id: str) -> int | None:
        item = world.raw_item(world.accounts_table, f"UPLOADS#{user_id}", upload_id)
        return int(item["expiresAt"]["N"]) if item and "expiresAt" in item else None

    return Subject(DynamoUploadStore(world.dynamodb, world.accounts_table), ClientError, expiry)


@pytest.fixture
def store(subject: Subject) -> UploadStore:
    return subject.store


def record(upload_id: str = "u-1", user_id: str = "alice", **changes: object) -> UploadRecord:
    made = UploadRecord(
        upload_id=upload_id,
        user_id=user_id,
        key=f"ocr/{user_id}/{upload_id}-scan.png",
        filename="scan.png",
        content_type="image/png",
        max_bytes=5_000_000,
        created_at="2026-01-01T00:00:00Z",
        expires_at=1_800_000_000,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def test_a_record_is_found_under_its_owner_only(store: UploadStore) -> None:
    store.create(record())
    assert store.get("alice", "u-1") == record()
    assert store.get("bob", "u-1") is None
    assert store.get("alice", "u-2") is None


def test_a_record_is_created_with_its_status_and_none_of_what_the_trigger_finds(store: UploadStore) -> None:
    """create writes what the upload-url operation knows; the format, size, pages and reason are the trigger's."""
    store.create(record(status=READY, reason="why", image_format="PNG", size=5, pages=2))
    assert store.get("alice", "u-1") == record(status=READY)


def test_a_record_is_created_once(subject: Subject) -> None:
    subject.store.create(record())
    with pytest.raises(subject.conflict):
        subject.store.create(record(filename="other.png", status=READY))
    assert subject.store.get("alice", "u-1") == record()  # the first one, untouched


def test_a_record_expires_when_it_says(subject: Subject) -> None:
    subject.store.create(record(expires_at=1_234_567_890))
    assert subject.expiry("alice", "u-1") == 1_234_567_890
    subject.store.mark_ready("alice", "u-1", image_format="PNG", size=10, pages=1)
    subject.store.mark_rejected("alice", "u-1", reason="replaced by a bad file")
    assert subject.expiry("alice", "u-1") == 1_234_567_890  # transitions keep it


def test_a_pending_upload_becomes_ready_with_what_the_trigger_found(store: UploadStore) -> None:
    store.create(record())
    assert store.mark_ready("alice", "u-1", image_format="PNG", size=10, pages=1) is True
    assert store.get("alice", "u-1") == record(status=READY, image_format="PNG", size=10, pages=1)


def test_a_ready_upload_whose_object_was_replaced_is_checked_again(store: UploadStore) -> None:
    store.create(record())
    store.mark_ready("alice", "u-1", image_format="PNG", size=10, pages=1)
    assert store.mark_ready("alice", "u-1", image_format="TIFF", size=20, pages=3) is True
    assert store.get("alice", "u-1") == record(status=READY, image_format="TIFF", size=20, pages=3)
    assert store.mark_rejected("alice", "u-1", reason="not an image") is True
    assert store.get("alice", "u-1") == record(
        status=REJECTED, reason="not an image", image_format="TIFF", size=20, pages=3
    )


def test_rejected_is_final(store: UploadStore) -> None:
    store.create(record())
    assert store.mark_rejected("alice", "u-1", reason="too many pages") is True
    assert store.mark_ready("alice", "u-1", image_format="PNG", size=10, pages=1) is False
    assert store.mark_rejected("alice", "u-1", reason="again") is False
    assert store.get("alice", "u-1") == record(status=REJECTED, reason="too many pages")


def test_a_transition_of_a_missing_record_fails_and_writes_nothing(store: UploadStore) -> None:
    assert store.mark_ready("alice", "u-1", image_format="PNG", size=10, pages=1) is False
    assert store.mark_rejected("alice", "u-1", reason="no") is False
    assert store.get("alice", "u-1") is None
    store.create(record())  # nothing is in the way of its creation
    assert store.mark_ready("bob", "u-1", image_format="PNG", size=10, pages=1) is False  # not bob's
    assert store.get("alice", "u-1") == record()


def test_a_deleted_record_is_gone_and_deleting_again_is_fine(store: UploadStore) -> None:
    store.create(record())
    store.create(record("u-2"))
    store.create(record("u-1", user_id="bob"))
    store.delete("alice", "u-1")
    store.delete("alice", "u-1")
    store.delete("carol", "u-9")
    assert store.get("alice", "u-1") is None
    assert (store.get("alice", "u-2"), store.get("bob", "u-1")) == (record("u-2"), record("u-1", user_id="bob"))
    store.create(record())  # its id can be used again
    assert store.get("alice", "u-1") == record()
