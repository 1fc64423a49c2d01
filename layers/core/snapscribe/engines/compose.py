"""The answer of an engine that reads pages apart (local, Textract), composed from every page's lines: the text in
reading order, or the prompt's template filled from the lines, with tokens counted the documented way."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from snapscribe.engines.base import ExtractionRequest, ExtractionResult
from snapscribe.engines.filler import fill_template_with_sources
from snapscribe.engines.layout import OcrLine, reading_order_text
from snapscribe.engines.tokens import estimate_tokens

# Prompt tokens counted per image by a page reader (a fixed, documented amount).
TOKENS_PER_IMAGE = 258
# Text tokens counted per page at most (8 KB of text; a dense A4 page is about 4 KB).
MAX_TEXT_TOKENS_PER_PAGE = 2048


def compose_lines(request: ExtractionRequest, lines: Sequence[OcrLine], pages: int) -> ExtractionResult:
    """The answer to `request` from the lines of its `pages` pages (each line knows its page)."""
    text = reading_order_text(lines)
    fields = None
    if request.json_mode:
        if request.template is not None:
            filled = fill_template_with_sources(request.template, lines, request.scene)
            document: Any = filled.document
            fields = filled.fields_json()
        else:
            document = {"text": text, "lines": [row for row in text.splitlines() if row]}
        text = json.dumps(document, ensure_ascii=False)
    prompt_tokens = estimate_tokens(request.prompt) + TOKENS_PER_IMAGE * pages
    completion_tokens = min(estimate_tokens(text), MAX_TEXT_TOKENS_PER_PAGE * max(1, pages))
    return ExtractionResult(text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, fields=fields)


def page_token_hold(pages: int, prompt: str) -> int:
    """The most tokens compose_lines can count for `pages` pages."""
    return estimate_tokens(prompt) + (TOKENS_PER_IMAGE + MAX_TEXT_TOKENS_PER_PAGE) * pages
