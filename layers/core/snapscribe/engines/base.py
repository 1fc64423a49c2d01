"""The one interface every engine implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from snapscribe.engines.layout import OcrLine
from snapscribe.images.prepare import PreparedImage


@dataclass(frozen=True)
class ExtractionRequest:
    images: Sequence[PreparedImage]
    prompt: str
    json_mode: bool = False
    template: Any = None  # a JSON template found in the prompt, if any (dict or list)
    scene: str = "general"
    max_output_tokens: int = 8192
    languages: tuple[str, ...] = ()  # ISO 639-1 hints (the batch API's engine options): the scripts to read


@dataclass(frozen=True)
class ExtractionResult:
    text: str  # with json_mode, a JSON document
    prompt_tokens: int
    completion_tokens: int
    # A filled template's fields by JSON pointer: value, confidence, page and box (engines that can tell).
    fields: dict[str, dict[str, Any]] | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_json(self) -> dict[str, Any]:
        """As a work item's output (a job's items run in other invocations)."""
        output = {"text": self.text, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}
        return output if self.fields is None else {**output, "fields": self.fields}

    @classmethod
    def from_json(cls, output: dict[str, Any]) -> ExtractionResult:
        fields = output.get("fields")
        return cls(str(output["text"]), int(output["prompt_tokens"]), int(output["completion_tokens"]), fields)


class Engine(Protocol):
    name: str
    # Longest image side the engine wants; larger images are downscaled before it sees them.
    max_image_side: int | None
    # True when pages can be read one by one (by different workers) and the answer composed from them
    # (PageEngine); False when one call must see every image together (a language model).
    reads_pages_apart: bool

    def extract(self, request: ExtractionRequest) -> ExtractionResult: ...

    def token_hold(self, pages: int, prompt: str) -> int:
        """The most tokens a request of `pages` pages can be charged: reserved before the work."""
        ...


class PageEngine(Engine, Protocol):
    """An engine that reads pages apart: `read_page` per page, anywhere; `compose` once, from all lines."""

    def read_page(self, image: PreparedImage, page: int = 0, languages: Sequence[str] = ()) -> list[OcrLine]: ...

    def languages(self) -> frozenset[str]:
        """The languages (ISO 639-1) it reads in this deployment: what a request may name as a hint."""
        ...

    def compose(self, request: ExtractionRequest, lines: Sequence[OcrLine], pages: int) -> ExtractionResult: ...


def page_engine(engine: Engine) -> PageEngine | None:
    """The engine as a PageEngine, if it reads pages apart."""
    return cast(PageEngine, engine) if engine.reads_pages_apart else None
