"""Small builders for what the operations' tests set up: callers, funded accounts, uploads with their objects,
settings, images, and the checks a refused request is held to."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image

from snapscribe.accounts.models import Principal
from snapscribe.accounts.service import AccountService
from snapscribe.caller import Caller
from snapscribe.config import Settings
from snapscribe.storage.keys import upload_key
from snapscribe.storage.uploads import PENDING, READY, REJECTED, UploadRecord
from tests.fakes.accounts import FakeAccountStore
from tests.fakes.clock import NOW, Clock
from tests.fakes.engines import FakeEngine
from tests.fakes.objects import FakeObjectStore
from tests.fakes.uploads import FakeUploadStore

MB = 1024 * 1024
ErrorT = TypeVar("ErrorT", bound=BaseException)


def make_caller(user_id: str = "alice", *, route: str = "POST /test") -> Caller:
    """A caller with a fresh request id (each request gets its own ledger row)."""
    principal = Principal(user_id=user_id, key_id=f"key_{user_id}", rate_limit=60)
    return Caller(principal=principal, request_id=f"req-{uuid.uuid4()}", route=route)


@dataclass
class Account:
    """One funded user of a fake account store, with the service the operations take."""

    store: FakeAccountStore
    service: AccountService
    caller: Caller

    @property
    def user_id(self) -> str:
        return self.caller.user_id

    @property
    def balance(self) -> int:
        return self.store.get_balance(self.user_id)

    def ledger(self) -> list[tuple[int, int, str]]:
        """Each ledger row as (cost, refund, status)."""
        return [(row.cost, row.refund, row.status) for row in self.store.ledger(self.user_id)]

    def summary(self) -> tuple[int, list[tuple[int, int, str]]]:
        """(balance, ledger rows): what a charge, a refund or 'nothing happened' is checked against."""
        return self.balance, self.ledger()

    def other_caller(self, user_id: str) -> Caller:
        return make_caller(user_id, route=self.caller.route)


def funded_account(credits: int, *, user_id: str = "alice", route: str = "POST /test") -> Account:
    store = FakeAccountStore()
    store.add_credits(user_id, credits)
    return Account(store, AccountService(store, clock=Clock()), make_caller(user_id, route=route))


@dataclass
class Uploads:
    """The two upload stores together, as the OCR-by-key and batch operations take them."""

    uploads: FakeUploadStore = field(default_factory=FakeUploadStore)
    objects: FakeObjectStore = field(default_factory=FakeObjectStore)

    def add(
        self,
        user_id: str,
        data: bytes | None,
        *,
        filename: str = "scan.png",
        status: str = READY,
        pages: int = 1,
        reason: str = "",
        max_bytes: int = 50 * MB,
    ) -> UploadRecord:
        """An upload record as the upload-url operation and the trigger leave it (created pending, then marked
        ready and, if so, rejected, as the trigger would), with its object (None: the object was never uploaded,
        or is gone)."""
        upload_id = str(uuid.uuid4())
        record = UploadRecord(
            upload_id=upload_id,
            user_id=user_id,
            key=upload_key(user_id, upload_id, filename),
            filename=filename,
            content_type="image/png",
            max_bytes=max_bytes,
            created_at="2023-11-14T22:13:20Z",
            expires_at=int(NOW) + 7 * 86400,
        )
        self.uploads.create(record)
        if status != PENDING:
            self.uploads.mark_ready(user_id, upload_id, image_format="", size=len(data or b""), pages=pages)
        if status == REJECTED:
            self.uploads.mark_rejected(user_id, upload_id, reason=reason)
        if data is not None:
            self.objects.put(record.key, data)
        stored = self.uploads.get(user_id, upload_id)
        assert stored is not None
        assert stored.status == status, f"an upload is pending, ready or rejected, not {status!r}"
        return stored


def make_settings(tmp_dir: Path, **overrides: Any) -> Settings:
    """Settings with every field given explicitly (its default unless overridden): nothing comes from the
    environment."""
    values: dict[str, Any] = {name: info.default for name, info in Settings.model_fields.items()}
    values.update(tmp_dir=tmp_dir, **overrides)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return Settings(**values)


def image_bytes(width: int = 64, height: int = 32, *, fmt: str = "PNG", color: str = "white") -> bytes:
    image = Image.new("RGB", (width, height), color)
    if fmt == "HEIF":
        return heif_bytes(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def heif_bytes(image: Image.Image, quality: int = 80) -> bytes:
    """A HEIC of the image, encoded by pillow-heif (a dev requirement, never shipped: it bundles x265). It is not
    registered with Pillow, so what reads the bytes back is the layer's decoder (pi-heif), as in production."""
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, format="HEIF", quality=quality)
    return buffer.getvalue()


def tiff_pages(widths: Iterable[int], height: int = 24) -> bytes:
    """A multi-page TIFF whose page N is widths[N-1] pixels wide, so that a page can be told by its width."""
    frames = [Image.new("L", (width, height), 255) for width in widths]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def raised(error_type: type[ErrorT], call: Callable[[], object]) -> ErrorT:
    """The error `call` raised, which must be of `error_type`."""
    with pytest.raises(error_type) as caught:
        call()
    return caught.value


def refused_free(error_type: type[ErrorT], call: Callable[[], object], account: Account, engine: FakeEngine) -> ErrorT:
    """The error `call` raised before anything was held: the balance as it was, no ledger row, no engine call."""
    balance = account.balance
    error = raised(error_type, call)
    if account.summary() != (balance, []):
        raise AssertionError(f"a refused request touched the account: {balance} -> {account.summary()}")
    if engine.requests:
        raise AssertionError(f"a refused request reached the engine {len(engine.requests)} times")
    return error


def files_in(folder: Path) -> list[Path]:
    """Everything below `folder` (what a temporary workspace left behind)."""
    return sorted(folder.rglob("*"))
