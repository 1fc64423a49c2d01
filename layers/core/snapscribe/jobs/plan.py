"""Work as a plan of items, the same for a synchronous request and a job on the queue.

A charging operation is a JobKind. `plan` checks the request exactly as the API does (validation, formats,
limits, ownership) and says what to hold and which items the work splits into: one per page or image for
an engine that reads pages apart, one per model call where a model must see every image together.
`run_item` does one item and returns its output as JSON (or raises a typed error for that item alone).
`finish` turns all outcomes into the API's result and what it cost (or raises the request's typed
error); `answer` says what the API answers for that result or error (its status and exact body). Run in one
invocation (jobs/run.py) or as a job on SQS (jobs/worker.py), the answer is the same.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Self

from pydantic import BaseModel, ConfigDict

from snapscribe import errors
from snapscribe.accounts.service import AccountService
from snapscribe.caller import Caller
from snapscribe.config import Settings
from snapscribe.contracts.errors import ErrorTable
from snapscribe.engines.base import Engine
from snapscribe.errors import SnapscribeError
from snapscribe.images.fetch import Resolver, system_resolver
from snapscribe.storage.uploads import ObjectStore, UploadStore


class EngineFor(Protocol):
    def __call__(self, engine_id: str | None = None, *, default: str | None = None) -> Engine: ...


class BlobCache:
    """Bytes read from storage, kept for the items of one invocation that read the same file (the pages of
    one PDF), up to `max_bytes` in all, least recently used first out. Thread-safe."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._blobs: OrderedDict[str, bytes | None] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], bytes | None]) -> bytes | None:
        with self._lock:
            if key in self._blobs:
                self._blobs.move_to_end(key)
                return self._blobs[key]
        data = load()
        with self._lock:
            if key not in self._blobs:
                self._blobs[key] = data
                self._size += len(data or b"")
                while self._size > self.max_bytes and len(self._blobs) > 1:
                    _key, evicted = self._blobs.popitem(last=False)
                    self._size -= len(evicted or b"")
        return data


@dataclass
class Deps:
    """The services a kind may use. Each kind uses the ones its API needs."""

    accounts: AccountService
    settings: Settings
    engine_for: EngineFor
    uploads: UploadStore | None = None
    objects: ObjectStore | None = None
    resolver: Resolver = system_resolver
    cache: BlobCache = field(default_factory=BlobCache)

    def object_store(self) -> ObjectStore:
        assert self.objects is not None, "this kind reads stored objects: give it an ObjectStore"
        return self.objects

    def upload_store(self) -> UploadStore:
        assert self.uploads is not None, "this kind reads upload records: give it an UploadStore"
        return self.uploads

    def credits(self, engine_id: str | None, tokens: int, pages: int) -> int:
        """What `tokens` counted over `pages` pages by the engine cost at its price (engines/catalog.py), where
        the contract charges the tokens used. A plain callable as `engine_for` (a test's): a credit a token."""
        choice = getattr(self.engine_for, "choice", None)
        return tokens if choice is None else int(choice(engine_id).credits(tokens, pages))


class PlanContext(BaseModel):
    """What a kind's run_item and finish need beyond the request, decided when the work was planned: each kind's
    own model (kept with a job's plan as JSON, and read back into the same model)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str  # the engine the work was planned for

    @classmethod
    def of(cls, plan: WorkPlan) -> Self:
        """The plan's context, as this kind's model."""
        if not isinstance(plan.context, cls):
            raise TypeError(f"the {plan.kind} plan's context is a {type(plan.context).__name__}, not {cls.__name__}")
        return plan.context


@dataclass
class WorkPlan:
    kind: str
    request: dict[str, Any]  # the kind's typed input, as JSON
    hold: int  # the most the work can cost: reserved before any work
    items: list[dict[str, Any]]  # one spec per item: its own slice of the work
    seconds: float  # the estimated duration, for the synchronous deadline
    context: PlanContext  # what run_item/finish need beyond the request
    inputs: dict[str, bytes] = field(default_factory=dict)  # bytes that travel with a job (not JSON)
    parallel: int = 1  # items a synchronous run does at once

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "request": self.request,
            "hold": self.hold,
            "items": self.items,
            "seconds": self.seconds,
            "context": self.context.model_dump(mode="json"),
            "inputs": sorted(self.inputs),
            "parallel": self.parallel,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any], inputs: dict[str, bytes], context: type[PlanContext]) -> WorkPlan:
        """The plan a job kept, its context read into the kind's model (`context`)."""
        return cls(
            kind=document["kind"],
            request=document["request"],
            hold=int(document["hold"]),
            items=list(document["items"]),
            seconds=float(document["seconds"]),
            context=context.model_validate(document.get("context", {})),
            inputs=inputs,
            parallel=int(document.get("parallel", 1)),
        )


@dataclass(frozen=True)
class ItemOutcome:
    output: dict[str, Any] | None = None
    error: errors.SnapscribeError | None = None


@dataclass(frozen=True)
class Finished:
    result: BaseModel  # the API's result model
    used: int  # what the work cost, at most the hold


class JobKind:
    """A charging operation, as work: what the synchronous route and the worker both run, and what its API
    answers (the same status and body either way). Each API's kind is one object, listed in the registry
    (operations/kinds.py)."""

    name: ClassVar[str]
    # A failed item fails the whole request (no partial result): the rest need not run.
    all_or_nothing: ClassVar[bool]
    status: ClassVar[int] = 200  # of success
    answer_model: ClassVar[type[BaseModel]]  # the success body's model
    errors: ClassVar[ErrorTable]  # the API's error answers
    context_model: ClassVar[type[PlanContext]]  # its plans' context

    def plan(self, request: Any, caller: Caller, deps: Deps) -> WorkPlan:
        raise NotImplementedError

    def run_item(self, plan: WorkPlan, index: int, deps: Deps) -> dict[str, Any]:
        raise NotImplementedError

    def finish(self, plan: WorkPlan, outcomes: Sequence[ItemOutcome], caller: Caller, deps: Deps) -> Finished:
        raise NotImplementedError

    def body(self, result: BaseModel) -> dict[str, Any]:
        """The success body: the result as it is, unless the contract wraps it."""
        return result.model_dump()

    def answer(self, outcome: BaseModel | SnapscribeError) -> tuple[int, dict[str, Any]]:
        """The status and body the API answers for a result, or for a typed error, of this work."""
        if isinstance(outcome, SnapscribeError):
            refused = self.errors.respond(outcome)
            return refused.status, refused.body
        return self.status, self.body(outcome)


# --- typed errors across the queue ----------------------------------------------------------------
def error_record(error: errors.SnapscribeError) -> dict[str, str]:
    return {"type": type(error).__name__, "message": error.message}


def error_from_record(record: dict[str, str]) -> errors.SnapscribeError:
    """The typed error an item raised in another invocation (its class and message; nothing else)."""
    found = getattr(errors, record.get("type", ""), None)
    cls = found if isinstance(found, type) and issubclass(found, errors.SnapscribeError) else errors.EngineError
    error = cls.__new__(cls)
    errors.SnapscribeError.__init__(error, record.get("message", "the work item failed"))
    return error


def first_failure(outcomes: Sequence[ItemOutcome]) -> errors.SnapscribeError | None:
    return next((outcome.error for outcome in outcomes if outcome.error is not None), None)
