"""An engine with its calls counted: the registry (registry.Engines) hands out every engine wrapped so, which makes
it the one place every route, job item and whole-file read passes through on its way to an engine.

Each call of `extract`, `read_page` or `read_document` counts one EngineCall and its EngineLatency; one that
raises counts an EngineError unless the error is the client's input (an InvalidRequest: too large for the engine,
an unreadable image); one that answers counts the pages it read as PagesRead. Everything else (name, token_hold,
compose, languages, an engine's own attributes) is the engine's."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from snapscribe.engines.base import Engine, ExtractionRequest, ExtractionResult, PageEngine
from snapscribe.engines.layout import OcrLine
from snapscribe.errors import InvalidRequest
from snapscribe.images.prepare import PreparedImage
from snapscribe.metering import ENGINE_CALLS, ENGINE_ERRORS, ENGINE_LATENCY, PAGES_READ, Meter


class _Call:
    def __init__(self, pages: int) -> None:
        self.pages = pages  # what a successful call read (read_document learns it from its answer)


class MeteredEngine:
    """`engine`, its calls counted on `meter`."""

    def __init__(self, engine: Engine, meter: Meter) -> None:
        self.engine = engine
        self._meter = meter
        self.name, self.max_image_side = engine.name, engine.max_image_side
        self.reads_pages_apart = engine.reads_pages_apart

    def __getattr__(self, name: str) -> Any:  # what only this kind of engine has (languages, compose, ...)
        return getattr(self.engine, name)

    @contextmanager
    def _call(self, pages: int) -> Iterator[_Call]:
        # A context manager, not a function the call goes through: the engine's caller stays one frame away.
        call, started = _Call(pages), time.monotonic()
        try:
            yield call
        except InvalidRequest:
            raise  # the client's input: the engine did its part
        except Exception:
            self._meter.count(ENGINE_ERRORS)
            raise
        else:
            self._meter.count(PAGES_READ, call.pages)
        finally:
            self._meter.count(ENGINE_CALLS)
            self._meter.milliseconds(ENGINE_LATENCY, (time.monotonic() - started) * 1000)

    def extract(self, request: ExtractionRequest) -> ExtractionResult:
        with self._call(len(request.images)):
            return self.engine.extract(request)

    def read_page(self, image: PreparedImage, page: int = 0, languages: Sequence[str] = ()) -> list[OcrLine]:
        with self._call(1):
            return cast(PageEngine, self.engine).read_page(image, page, languages)

    def token_hold(self, pages: int, prompt: str) -> int:
        return self.engine.token_hold(pages, prompt)

    # A page engine's own, declared (not left to __getattr__): since Python 3.12 a runtime protocol check
    # (whole_files.DocumentReader) looks attributes up statically, and would not find them.
    def languages(self) -> frozenset[str]:
        return cast(PageEngine, self.engine).languages()

    def compose(self, request: ExtractionRequest, lines: Sequence[OcrLine], pages: int) -> ExtractionResult:
        return cast(PageEngine, self.engine).compose(request, lines, pages)


class MeteredDocumentEngine(MeteredEngine):
    """An engine that also reads stored files whole (operations/whole_files.DocumentReader): only such an engine's
    wrapper has `read_document`, as the protocol check (isinstance) tells readers apart by it."""

    def read_document(
        self,
        bucket: str,
        key: str,
        *,
        page_sizes: Sequence[tuple[int, int]] | None,
        deadline: float,
        client_token: str | None = None,
        languages: Sequence[str] = (),
    ) -> list[OcrLine]:
        reader: Any = self.engine
        with self._call(len(page_sizes or ())) as call:
            lines: list[OcrLine] = reader.read_document(
                bucket, key, page_sizes=page_sizes, deadline=deadline, client_token=client_token, languages=languages
            )
            if page_sizes is None:  # the file's pages could not be told beforehand: those the answer has lines on
                call.pages = len({line.page for line in lines}) or 1
            return lines


def metered(engine: Engine, meter: Meter) -> MeteredEngine:
    if callable(getattr(engine, "read_document", None)):
        return MeteredDocumentEngine(engine, meter)
    return MeteredEngine(engine, meter)
