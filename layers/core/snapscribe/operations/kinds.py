"""Every charging operation's JobKind, by name: what a worker runs for a job's items."""

from __future__ import annotations

from snapscribe.jobs.plan import JobKind
from snapscribe.operations.batch_extraction import EXTRACT_BATCH
from snapscribe.operations.extract_image import EXTRACT_IMAGE
from snapscribe.operations.ocr_by_key import OCR_BY_KEY
from snapscribe.operations.structured_extraction import EXTRACT_STRUCTURED

KINDS: dict[str, JobKind] = {kind.name: kind for kind in (EXTRACT_IMAGE, EXTRACT_STRUCTURED, OCR_BY_KEY, EXTRACT_BATCH)}
