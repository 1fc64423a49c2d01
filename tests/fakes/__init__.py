"""In-memory fakes of the stores and the engine the operations depend on, faithful to their Protocols
(the conditional writes included), and small builders for callers, funded accounts, uploads and images.
No moto, no boto3, no sockets, no OCR model."""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image

from snapscribe.accounts.models import ApiKeyRecord, LedgerEntry, Principal, Reservation
from snapscribe.accounts.service import AccountService
from snapscribe.caller import Caller
from snapscribe.config import Settings
from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.engines.layout import OcrLine
from snapscribe.errors import UnknownEngine
from snapscribe.images.prepare import PreparedImage
from snapscribe.jobs.model import (
    BUSY,
    CANCELLED,
    CLAIMED,
    FAILED,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    QUEUED,
    RESOLVED,
    RUNNING,
    SUCCEEDED,
    ItemRecord,
    Job,
    Page,
)
from snapscribe.storage.keys import upload_key
from snapscribe.storage.uploads import PENDING, READY, REJECTED, UploadRecord

MB = 1024 * 1024
ErrorT = TypeVar("ErrorT", bound=BaseException)
NOW = 1_700_000_000.0  # a fixed "now" for clocks


class Clock:
    """A clock a test sets by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- accounts ---------------------------------------------------------------------------------------
class FakeAccountStore:
    """The AccountStore protocol in memory: a reservation takes the credits and writes a `reserved` row
    atomically; only a row still `reserved` can be settled (once)."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKeyRecord] = {}
        self.balances: dict[str, int] = {}
        self.windows: dict[tuple[str, int], int] = {}
        self.rows: dict[tuple[str, str], LedgerEntry] = {}  # (user_id, ledger sort key) -> row
        self.open_holds: dict[tuple[str, str], Reservation] = {}  # rows still `reserved` (a sparse index)
        self.webhook_secrets: dict[str, str] = {}  # key id -> secret
        self.lock = threading.Lock()

    def get_key(self, key_hash: str) -> ApiKeyRecord | None:
        return self.keys.get(key_hash)

    def put_key(self, record: ApiKeyRecord, initial_credits: int, webhook_secret: str) -> None:
        with self.lock:
            self.keys[record.key_hash] = record
            self.balances[record.user_id] = self.balances.get(record.user_id, 0) + initial_credits
            self.webhook_secrets[record.key_id] = webhook_secret

    def webhook_secret(self, key_id: str) -> str | None:
        return self.webhook_secrets.get(key_id)

    def set_webhook_secret(self, key_id: str, secret: str) -> bool:
        with self.lock:
            if key_id not in self.webhook_secrets:
                return False
            self.webhook_secrets[key_id] = secret
            return True

    def list_keys(self) -> list[ApiKeyRecord]:
        return sorted(self.keys.values(), key=lambda record: record.created_at)

    def revoke_key(self, key_id: str) -> bool:
        with self.lock:
            for key_hash, record in self.keys.items():
                if record.key_id == key_id:
                    self.keys[key_hash] = replace(record, revoked=True)
                    return True
        return False

    def add_credits(self, user_id: str, credits: int) -> int:
        with self.lock:
            self.balances[user_id] = self.balances.get(user_id, 0) + credits
            return self.balances[user_id]

    def get_balance(self, user_id: str) -> int:
        return self.balances.get(user_id, 0)

    def hit_rate_window(self, key_id: str, window_start: int, limit: int, expires_at: int) -> int | None:
        with self.lock:
            count = self.windows.get((key_id, window_start), 0)
            if count >= limit:
                return None
            self.windows[(key_id, window_start)] = count + 1
            return count + 1

    def reserve(
        self,
        user_id: str,
        cost: int,
        request_id: str,
        route: str,
        key_id: str,
        created_at: str,
        hold_until: int,
        job_id: str | None = None,
        source: str | None = None,
    ) -> Reservation | None:
        ledger_sk = f"LEDGER#{created_at}#{request_id}"
        with self.lock:
            if self.balances.get(user_id, 0) < cost or (user_id, ledger_sk) in self.rows:
                return None  # DynamoDB cancels the whole transaction on either condition
            self.balances[user_id] -= cost
            self.rows[(user_id, ledger_sk)] = LedgerEntry(
                user_id, request_id, route, key_id, cost, 0, "reserved", created_at, job_id, source
            )
            reservation = Reservation(user_id, ledger_sk, cost, request_id, hold_until)
            self.open_holds[(user_id, ledger_sk)] = reservation
            return reservation

    def recent_ledger(self, user_id: str, limit: int) -> list[LedgerEntry]:
        return sorted(self.ledger(user_id), key=lambda row: row.created_at, reverse=True)[:limit]

    def overdue_holds(self, now: int, limit: int) -> list[Reservation]:
        with self.lock:
            overdue = sorted((hold for hold in self.open_holds.values() if hold.hold_until < now), key=str)
            return overdue[:limit]

    def settle(self, reservation: Reservation, refund: int, status: str) -> None:
        with self.lock:
            row = self.rows[(reservation.user_id, reservation.ledger_sk)]
            if row.status != "reserved":
                return  # already settled: nothing more to give back
            self.rows[(reservation.user_id, reservation.ledger_sk)] = replace(row, refund=refund, status=status)
            self.open_holds.pop((reservation.user_id, reservation.ledger_sk), None)
            self.balances[reservation.user_id] += refund

    def ledger(self, user_id: str) -> list[LedgerEntry]:
        return [row for (owner, _sk), row in sorted(self.rows.items()) if owner == user_id]


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


# --- uploads and objects --------------------------------------------------------------------------
class FakeUploadStore:
    """The UploadStore protocol in memory: records under their owner; pending or ready -> ready or rejected;
    rejected is final; a transition of a missing record fails like a conditional write."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], UploadRecord] = {}
        self.lock = threading.Lock()

    def create(self, record: UploadRecord) -> None:
        with self.lock:
            if (record.user_id, record.upload_id) in self.records:
                raise ValueError(f"upload {record.upload_id} exists already")  # attribute_not_exists(pk)
            self.records[(record.user_id, record.upload_id)] = record

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


FAKE_BUCKET_URL = "https://fake-bucket.example"


class FakeObjectStore:
    """The ObjectStore protocol in memory: key -> bytes (JSON documents are stored as UTF-8 JSON, as S3
    would), each with the time it was written; presigned URLs are deterministic fakes."""

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
            return f"{FAKE_BUCKET_URL}/{key}?expires={expires_in}&link={self._links}"

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
        """An upload record as the upload-url operation and the trigger leave it, with its object (None: the
        object was never uploaded, or is gone)."""
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
            status=status,
            reason=reason,
            size=len(data or b""),
            pages=pages,
        )
        self.uploads.create(record)
        if data is not None:
            self.objects.put(record.key, data)
        return record


# --- the engine -----------------------------------------------------------------------------------
Scripted = str | ExtractionResult | Exception | Callable[[ExtractionRequest], "str | ExtractionResult"]
PROMPT_TOKENS = 7  # what a scripted plain-text answer reports
COMPLETION_TOKENS = 3


def answer(
    text: str, prompt_tokens: int = PROMPT_TOKENS, completion_tokens: int = COMPLETION_TOKENS
) -> ExtractionResult:
    return ExtractionResult(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


class FakeEngine:
    """The Engine protocol with scripted answers: each call takes the next item of `script` (the last one
    repeats). An item is the text, a full result, an exception to raise, or a function of the request
    (for answers that depend on the page, whatever order threads call in). Records every request."""

    def __init__(
        self,
        *script: Scripted,
        name: str = "fake",
        max_image_side: int | None = None,
        hold_per_page: int = 1000,
        reads_pages_apart: bool = False,
    ) -> None:
        self.name = name
        self.max_image_side = max_image_side
        # False: like a model, one call sees every image. True: like the local engine, pages are read apart
        # (read_page takes the script's next answer as the page's one line) and compose joins them.
        self.reads_pages_apart = reads_pages_apart
        self.hold_per_page = hold_per_page
        self.script: list[Scripted] = list(script) or ["scripted text"]
        self.requests: list[ExtractionRequest] = []
        self.holds: list[tuple[int, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def read_page(self, image: PreparedImage, page: int = 0, languages: Sequence[str] = ()) -> list[OcrLine]:
        text = self.extract(ExtractionRequest(images=[image], prompt="", languages=tuple(languages))).text
        return [OcrLine(text, 0.0, 10.0 * page, 100.0, 10.0 * page + 8, 1.0, page)]

    def languages(self) -> frozenset[str]:
        return frozenset({"en", "fa"})  # what this fake deployment "carries"

    def compose(self, request: ExtractionRequest, lines: Sequence[OcrLine], pages: int) -> ExtractionResult:
        return answer("\n\n".join(line.text for line in lines))

    def extract(self, request: ExtractionRequest) -> ExtractionResult:
        with self.lock:
            item = self.script[min(len(self.requests), len(self.script) - 1)]
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if isinstance(item, Exception):
                raise item
            reply = item(request) if callable(item) else item
            return answer(reply) if isinstance(reply, str) else reply
        finally:
            with self.lock:
                self.in_flight -= 1

    def token_hold(self, pages: int, prompt: str) -> int:
        with self.lock:
            self.holds.append((pages, prompt))
        return self.hold_per_page * pages


def engine_picker(engine: FakeEngine, asked: list[str | None] | None = None) -> Callable[[str | None], FakeEngine]:
    """An `engine_for` that answers `engine` for every id, noting each id it was asked for in `asked`."""

    def engine_for(engine_id: str | None) -> FakeEngine:
        if asked is not None:
            asked.append(engine_id)
        return engine

    return engine_for


def no_engine(engine_id: str | None) -> FakeEngine:
    """An `engine_for` that knows no engine."""
    raise UnknownEngine(f"Unknown engine: {engine_id!r}")


# --- settings and images ---------------------------------------------------------------------------
def make_settings(tmp_dir: Path, **overrides: Any) -> Settings:
    """Settings with every field given explicitly (its default unless overridden): nothing comes from the
    environment."""
    values: dict[str, Any] = {name: info.default for name, info in Settings.model_fields.items()}
    values.update(tmp_dir=tmp_dir, **overrides)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return Settings(**values)


def image_bytes(width: int = 64, height: int = 32, *, fmt: str = "PNG", color: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
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


# --- jobs -------------------------------------------------------------------------------------------
class FakeJobStore:
    """The JobStore protocol in memory, with the DynamoDB adapter's conditions: an item is claimed by one
    worker (taken over only when its lease has run out), resolved once and counted in the same step; a job is
    finished once."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.item_records: dict[tuple[str, int], dict[str, Any]] = {}
        self.finalizing: dict[str, int] = {}
        self.lock = threading.Lock()

    def create(self, job: Job) -> None:
        with self.lock:
            if job.job_id in self.jobs:
                raise ValueError(f"job {job.job_id} exists")
            self.jobs[job.job_id] = replace(job, remaining=job.total, webhook_attempts=[])

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            job = self.jobs.get(job_id)
            return replace(job, webhook_attempts=list(job.webhook_attempts)) if job else None

    def list_for(self, owner: str, *, limit: int, cursor: str | None) -> Page:
        mine = sorted((job for job in self.jobs.values() if job.owner == owner), key=lambda job: job.created_at)
        mine.reverse()
        start = int(cursor or 0)
        end = start + limit
        return Page(mine[start:end], str(end) if end < len(mine) else None)

    def mark_running(self, job_id: str, now: str) -> None:
        with self.lock:
            job = self.jobs[job_id]
            if job.status == QUEUED:
                self.jobs[job_id] = replace(job, status=RUNNING, started_at=now)

    def claim_item(self, job_id: str, index: int, *, token: str, lease_until: int, now: int) -> str:
        with self.lock:
            item = self.item_records.get((job_id, index))
            if item is None:
                self.item_records[(job_id, index)] = {
                    "status": RUNNING,
                    "token": token,
                    "lease": lease_until,
                    "attempts": 1,
                }
                return CLAIMED
            if item["status"] != RUNNING:
                return RESOLVED
            if item["lease"] >= now:
                return BUSY
            item.update(token=token, lease=lease_until, attempts=item["attempts"] + 1)
            return CLAIMED

    def resolve_item(
        self,
        job_id: str,
        index: int,
        outcome: str,
        *,
        token: str | None,
        error: dict[str, str] | None,
        output: str | None = None,
        output_key: str | None = None,
    ) -> bool:
        with self.lock:
            item = self.item_records.get((job_id, index))
            if token is not None:
                allowed = item is not None and item["status"] == RUNNING and item["token"] == token
            elif outcome == ITEM_CANCELLED:
                allowed = item is None
            else:
                allowed = item is None or item["status"] == RUNNING
            if not allowed or job_id not in self.jobs:
                return False
            self.item_records[(job_id, index)] = {
                **(item or {}),
                "status": outcome,
                "error": error,
                "output": output,
                "output_key": output_key,
            }
            job = self.jobs[job_id]
            counter = {ITEM_DONE: "done", ITEM_FAILED: "failed", ITEM_CANCELLED: "cancelled"}[outcome]
            self.jobs[job_id] = replace(job, remaining=job.remaining - 1, **{counter: getattr(job, counter) + 1})
            return True

    def items(self, job_id: str) -> dict[int, ItemRecord]:
        with self.lock:
            return {
                index: ItemRecord(item["status"], item.get("error"), item.get("output"), item.get("output_key"))
                for (owner, index), item in self.item_records.items()
                if owner == job_id
            }

    def request_cancel(self, job_id: str, now: str) -> bool:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.finished_at is not None or job.status in (SUCCEEDED, FAILED):
                return False
            self.jobs[job_id] = replace(job, cancel_requested=True, status=CANCELLED)
            return True

    def claim_finalization(self, job_id: str, *, token: str, now: int, stale_after: int) -> bool:
        with self.lock:
            job = self.jobs[job_id]
            at = self.finalizing.get(job_id)
            if job.remaining != 0 or job.finished_at is not None or (at is not None and at >= now - stale_after):
                return False
            self.finalizing[job_id] = now
            return True

    def finish(
        self,
        job_id: str,
        *,
        status: str,
        result_status: int | None,
        result: str | None,
        result_key: str | None,
        charged: int,
        now: str,
    ) -> None:
        with self.lock:
            job = self.jobs[job_id]
            if job.finished_at is None:
                self.jobs[job_id] = replace(
                    job,
                    status=status,
                    result_status=result_status,
                    result=result,
                    result_key=result_key,
                    charged=charged,
                    finished_at=now,
                )

    def mark_webhook_queued(self, job_id: str) -> bool:
        with self.lock:
            job = self.jobs[job_id]
            if job.webhook_state is not None:
                return False
            self.jobs[job_id] = replace(job, webhook_state="queued")
            return True

    def record_webhook_attempt(self, job_id: str, attempt: dict[str, Any], state: str) -> None:
        with self.lock:
            job = self.jobs[job_id]
            self.jobs[job_id] = replace(job, webhook_attempts=[*job.webhook_attempts, attempt], webhook_state=state)

    def open_jobs(self, limit: int) -> list[Job]:
        with self.lock:
            return sorted((job for job in self.jobs.values() if job.finished_at is None), key=lambda job: job.deadline)[
                :limit
            ]


class FakeQueue:
    """A queue that keeps what is sent, in order; `take()` hands the messages out (at least once: a test may
    hand one out again)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def send(self, messages: list[dict[str, Any]]) -> None:
        with self.lock:
            self.messages.extend(json.loads(json.dumps(message)) for message in messages)

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            taken, self.messages = self.messages, []
            return taken
