"""The Engine protocol with scripted answers, and the `engine_for` pickers the operations take."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.engines.layout import OcrLine
from snapscribe.errors import UnknownEngine
from snapscribe.images.prepare import PreparedImage

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
