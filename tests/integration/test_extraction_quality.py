"""The local engine's template filling on real receipts and forms (../shared/eval), through the engine's
real path (RapidOCR, then the filler). Accuracy floors, not timings: a change that breaks extraction fails."""

from __future__ import annotations

import pytest

from snapscribe.engines.local import LocalEngine
from snapscribe_tools import evaluate

pytestmark = [pytest.mark.slow, pytest.mark.eval_data]


@pytest.fixture(scope="module")
def reader() -> evaluate.Reader:
    return evaluate.Reader(LocalEngine())


def test_sroie_fields(reader: evaluate.Reader) -> None:
    scores = evaluate.sroie(reader)
    fields = scores.accuracy()
    assert scores.count == 30
    assert scores.mean() >= 0.92, fields  # measured 0.942 when this floor was set (0.925 before issue 11)
    assert min(fields.values()) >= 0.88, fields  # address 0.900


def test_sroie_train_fields_on_the_datasets_own_lines() -> None:
    """The filler alone, on the 150 receipts' upstream transcriptions (no OCR: a second each): rules that fit
    only the 30 receipts above fail here."""
    if not (evaluate.EVAL / "sroie_train" / "ocr_boxes").exists():
        pytest.skip("../shared/eval/sroie_train is not there")
    scores = evaluate.sroie(evaluate.Reader(LocalEngine()), "sroie_train", upstream=True)
    fields = scores.accuracy()
    assert scores.count == 150
    assert scores.mean() >= 0.93, fields  # measured 0.947 when this floor was set (0.853 before issue 11)
    assert min(fields.values()) >= 0.89, fields  # address 0.907


def test_funsd_pairs(reader: evaluate.Reader) -> None:
    exact, close, total = evaluate.funsd(reader)
    assert total > 200
    assert exact / total >= 0.43  # measured 0.459 (0.295 before issue 11): forms with long, multi-line answers
    assert close >= exact
