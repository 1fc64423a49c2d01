"""The one registry of work: every charging operation's JobKind, by name. The routes name their kind from it,
the planner (jobs/submit.py) writes its name into the job, and the worker finds it here again by that name."""

from __future__ import annotations

from snapscribe.jobs.plan import JobKind
from snapscribe.operations.batch_extraction import EXTRACT_BATCH
from snapscribe.operations.extract_image import EXTRACT_IMAGE
from snapscribe.operations.ocr_by_key import OCR_BY_KEY
from snapscribe.operations.structured_extraction import EXTRACT_STRUCTURED

KINDS: dict[str, JobKind] = {kind.name: kind for kind in (EXTRACT_IMAGE, EXTRACT_STRUCTURED, OCR_BY_KEY, EXTRACT_BATCH)}
