"""`make eval`: the local engine's template filling on ../shared/eval, through the engine's real path.

SROIE (receipts): company, date, address, total, normalised exact match (case, whitespace and
punctuation removed, as the official task-3 scoring does). FUNSD (forms): each question of a form is a
template key (its text the description), the answer the expected value; normalised exact match, and
the share within a 0.8 similarity for long answers that OCR rarely reads letter-perfect. Text lines (every
script): the character error rate per language (NFKC, whitespace runs as one space, Arabic vowel marks
dropped: the ground truth omits them), and whether the detected `language` is the line's.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
import unicodedata
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.local import LocalEngine
from snapscribe.images.prepare import prepare_image
from snapscribe_tools.template import PROJECT_ROOT

EVAL = PROJECT_ROOT.parent / "shared" / "eval"
SROIE_TEMPLATE = {"company": "Company name", "date": "Date", "address": "Address", "total": "Total amount"}


def normalise(value: Any) -> str:
    return re.sub(r"[^0-9a-z]", "", str(value or "").lower())


def _fill(engine: LocalEngine, image_path: Path, template: dict[str, Any]) -> tuple[dict[str, Any], float]:
    image = prepare_image(image_path.read_bytes(), max_side=engine.max_image_side, max_pixels=80_000_000)
    prompt = f"Extract these fields as JSON: {json.dumps(template)}"
    started = time.perf_counter()
    result = engine.extract(ExtractionRequest(images=[image], prompt=prompt, json_mode=True, template=template))
    return json.loads(result.text), time.perf_counter() - started


def sroie(engine: LocalEngine) -> tuple[dict[str, float], list[float]]:
    hits = dict.fromkeys(SROIE_TEMPLATE, 0)
    times: list[float] = []
    labels = sorted((EVAL / "sroie" / "labels").glob("*.json"))
    for label in labels:
        gold = json.loads(label.read_text())
        got, seconds = _fill(engine, EVAL / "sroie" / "images" / f"{label.stem}.jpg", SROIE_TEMPLATE)
        times.append(seconds)
        for field in SROIE_TEMPLATE:
            hits[field] += normalise(got.get(field)) == normalise(gold.get(field))
    return {field: count / len(labels) for field, count in hits.items()}, times


def funsd(engine: LocalEngine) -> tuple[int, int, int, list[float]]:
    exact = close = total = 0
    times: list[float] = []
    for path in sorted((EVAL / "funsd" / "kv_pairs").glob("*.json")):
        document = json.loads(path.read_text())
        pairs = [pair for pair in document["pairs"] if pair["question"].strip() and pair["answer"].strip()]
        template: dict[str, str] = {}
        for pair in pairs:
            template.setdefault(pair["question"].strip().rstrip(":").strip() or pair["question"], pair["question"])
        if not template:
            continue
        got, seconds = _fill(engine, EVAL / "funsd" / "images" / f"{document['id']}.png", template)
        times.append(seconds)
        for pair in pairs:
            key = pair["question"].strip().rstrip(":").strip() or pair["question"]
            value, expected = normalise(got.get(key)), normalise(pair["answer"])
            total += 1
            exact += value == expected
            close += bool(value) and SequenceMatcher(None, value, expected).ratio() >= 0.8
    return exact, close, total, times


ARABIC_VOWEL_MARKS = re.compile("[\u064b-\u0652\u0670]")


def character_error_rate(read: str, truth: str) -> float:
    """Edit distance over the truth's length, after NFKC, without Arabic vowel marks and bidi controls, with
    whitespace runs as one space."""

    def normal(text: str) -> str:
        text = ARABIC_VOWEL_MARKS.sub("", unicodedata.normalize("NFKC", text))
        text = "".join(char for char in text if unicodedata.category(char) != "Cf")
        return " ".join(text.split())

    read, truth = normal(read), normal(truth)
    previous = list(range(len(truth) + 1))
    for i, a in enumerate(read, 1):
        current = [i]
        for j, b in enumerate(truth, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] / max(1, len(truth))


def textlines(engine: LocalEngine) -> dict[str, list[tuple[float, bool, float]]]:
    """Per language (the label's first): each line's CER, whether `language` was right, and its seconds."""
    from snapscribe.language import detect_language

    found: dict[str, list[tuple[float, bool, float]]] = {}
    with (EVAL / "textlines" / "labels.jsonl").open(encoding="utf-8") as labels:
        for item in map(json.loads, labels):
            if not item.get("text"):
                continue
            data = (EVAL / "textlines" / item["image"]).read_bytes()
            image = prepare_image(data, max_side=engine.max_image_side, max_pixels=80_000_000)
            started = time.perf_counter()
            text = engine.extract(ExtractionRequest(images=[image], prompt="")).text
            seconds = time.perf_counter() - started
            language = str(item["lang"]).split("+")[0]
            group = "ar (classical)" if str(item["id"]).startswith("openarabic") else language
            outcome = (character_error_rate(text, item["text"]), detect_language(text) == language, seconds)
            found.setdefault(group, []).append(outcome)
    return found


def main() -> None:
    engine = LocalEngine()
    print("measuring: SROIE ...", file=sys.stderr, flush=True)
    fields, sroie_times = sroie(engine)
    print("measuring: FUNSD ...", file=sys.stderr, flush=True)
    exact, close, total, funsd_times = funsd(engine)
    mean = statistics.mean(fields.values())
    print("\nsnapscribe eval: local engine, template filling (normalised exact match)\n")
    print("| set | field | accuracy |")
    print("|---|---|---|")
    for field, accuracy in fields.items():
        print(f"| SROIE ({len(sroie_times)} receipts) | {field} | {accuracy:.3f} |")
    print(f"| SROIE | **mean** | **{mean:.3f}** |")
    print(f"| FUNSD ({len(funsd_times)} forms, {total} pairs) | exact | {exact / total:.3f} |")
    print(f"| FUNSD | similarity >= 0.8 | {close / total:.3f} |")
    print(
        f"\ntime per image (OCR + filling): SROIE median {statistics.median(sroie_times[1:]):.2f} s, "
        f"FUNSD median {statistics.median(funsd_times[1:]):.2f} s (first image excluded: model load)"
    )
    print("measuring: text lines ...", file=sys.stderr, flush=True)
    lines = textlines(engine)
    print("\nsnapscribe eval: local engine, text lines of every script (../shared/eval/textlines)\n")
    print("| language | lines | CER | language right | median s/line |")
    print("|---|---|---|---|---|")
    for language, outcomes in sorted(lines.items()):
        cer = statistics.mean(outcome[0] for outcome in outcomes)
        right = sum(outcome[1] for outcome in outcomes)
        seconds = statistics.median(outcome[2] for outcome in outcomes)
        print(f"| {language} | {len(outcomes)} | {cer:.3f} | {right}/{len(outcomes)} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
