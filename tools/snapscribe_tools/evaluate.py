"""`make eval`: the local engine's template filling on ../shared/eval, through the engine's real path.

SROIE (receipts): company, date, address, total, normalised exact match (case, whitespace and
punctuation removed, as the official task-3 scoring does). FUNSD (forms): each question of a form is a
template key (its text the description), the answer the expected value; normalised exact match, and
the share within a 0.8 similarity for long answers that OCR rarely reads letter-perfect. Text lines (every
script): the character error rate per language (NFKC, whitespace runs as one space, Arabic vowel marks
dropped: the ground truth omits them), and whether the detected `language` is the line's.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.layout import OcrLine
from snapscribe.engines.local import LocalEngine
from snapscribe.images.prepare import prepare_image
from snapscribe_tools.template import PROJECT_ROOT

EVAL = PROJECT_ROOT.parent / "shared" / "eval"
SROIE_TEMPLATE = {"company": "Company name", "date": "Date", "address": "Address", "total": "Total amount"}
SROIE_SETS = ("sroie", "sroie_train")
# What the OCR's output depends on: a cached reading is used only while all of these are unchanged.
OCR_SOURCES = ("engines/local.py", "engines/multiscript.py", "engines/scripts.py", "images/prepare.py")
OCR_PACKAGES = ("rapidocr", "onnxruntime", "opencv-python-headless", "tesserocr", "Pillow")
CACHE = PROJECT_ROOT / ".venv" / "cache" / "eval-ocr"


def normalise(value: Any) -> str:
    return re.sub(r"[^0-9a-z]", "", str(value or "").lower())


class Reader:
    """The local engine's lines for an image, as the engine reads them. With `cache`, each image's lines are kept
    under .venv/cache/eval-ocr, keyed by the image's bytes and a fingerprint of the OCR code, its packages and
    models: rules of the filler can be measured again in seconds; any change to the OCR reads afresh."""

    def __init__(self, engine: LocalEngine, cache: bool = False) -> None:
        self.engine = engine
        self.folder = CACHE / _ocr_fingerprint() if cache else None
        self.seconds: list[float] = []

    def lines(self, image_path: Path) -> list[OcrLine]:
        data = image_path.read_bytes()
        cached = self.folder / f"{hashlib.sha256(data).hexdigest()}.json" if self.folder else None
        if cached is not None and cached.exists():
            return [OcrLine(**line) for line in json.loads(cached.read_text(encoding="utf-8"))]
        image = prepare_image(data, max_side=self.engine.max_image_side, max_pixels=80_000_000)
        started = time.perf_counter()
        lines = self.engine.read_page(image)
        self.seconds.append(time.perf_counter() - started)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps([asdict(line) for line in lines], ensure_ascii=False), encoding="utf-8")
        return lines


def _ocr_fingerprint() -> str:
    from snapscribe.engines.local import tessdata_dir

    digest = hashlib.sha256()
    package = PROJECT_ROOT / "layers" / "core" / "snapscribe"
    for source in OCR_SOURCES:
        digest.update((package / source).read_bytes())
    for name in OCR_PACKAGES:
        digest.update(f"{name}=={importlib.metadata.version(name)}".encode())
    folder = tessdata_dir()
    for model in sorted(folder.glob("*.traineddata")) if folder else ():
        digest.update(f"{model.name}:{model.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def upstream_lines(csv_path: Path) -> list[OcrLine]:
    """A receipt's lines as the dataset transcribed them (ocr_boxes/NNN.csv: 8 coordinates, then the text, which
    may hold commas): the filler measured apart from the OCR."""
    lines = []
    for row in csv_path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = row.split(",", 8)
        if len(parts) < 9 or not parts[8].strip():
            continue
        xs, ys = [float(value) for value in parts[0:8:2]], [float(value) for value in parts[1:8:2]]
        lines.append(OcrLine(parts[8].strip(), min(xs), min(ys), max(xs), max(ys), 1.0))
    return lines


def _fill(lines: list[OcrLine], template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The engine's own composition of an answer (compose: the filler over the lines), as JSON, and its fields'
    sources (confidence and box by JSON pointer)."""
    prompt = f"Extract these fields as JSON: {json.dumps(template)}"
    request = ExtractionRequest(images=[], prompt=prompt, json_mode=True, template=template)
    result = LocalEngine().compose(request, lines, 1)
    return dict(json.loads(result.text)), result.fields or {}


@dataclass
class FieldScores:
    """Per field, how many receipts were right, and each miss with its category."""

    count: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    misses: list[dict[str, Any]] = field(default_factory=list)
    confidences: list[tuple[float, bool]] = field(default_factory=list)  # each filled field's, and if right

    def accuracy(self) -> dict[str, float]:
        return {name: self.hits[name] / max(1, self.count) for name in SROIE_TEMPLATE}

    def mean(self) -> float:
        return statistics.mean(self.accuracy().values())

    def add(self, other: FieldScores) -> FieldScores:
        return FieldScores(
            self.count + other.count,
            self.hits + other.hits,
            self.misses + other.misses,
            self.confidences + other.confidences,
        )


def miss_category(got: Any, expected: Any) -> str:
    """What kind of miss: nothing found, too much (the right value and more: a line joined), too little (part of
    it: a line cut), near (within 0.8 similarity: OCR confusions, a character or two), or another value."""
    value, wanted = normalise(got), normalise(expected)
    if not value:
        return "missing"
    if wanted in value:
        return "too much"
    if value in wanted:
        return "too little"
    if SequenceMatcher(None, value, wanted).ratio() >= 0.8:
        return "near"
    return "other value"


def sroie(reader: Reader, name: str = "sroie", upstream: bool = False) -> FieldScores:
    """Template filling on one SROIE set (`upstream`: on the dataset's own line transcripts instead of the
    engine's OCR)."""
    scores = FieldScores()
    folder = EVAL / name
    for label in sorted((folder / "labels").glob("*.json")):
        gold = json.loads(label.read_text())
        if upstream:
            lines = upstream_lines(folder / "ocr_boxes" / f"{label.stem}.csv")
        else:
            lines = reader.lines(folder / "images" / f"{label.stem}.jpg")
        got, sources = _fill(lines, SROIE_TEMPLATE)
        scores.count += 1
        for name_ in SROIE_TEMPLATE:
            right = normalise(got.get(name_)) == normalise(gold.get(name_))
            confidence = sources.get(f"/{name_}", {}).get("confidence")
            if confidence is not None:
                scores.confidences.append((float(confidence), right))
            if right:
                scores.hits[name_] += 1
            else:
                scores.misses.append(
                    {
                        "set": f"{name} (own lines)" if upstream else name,
                        "id": label.stem,
                        "field": name_,
                        "got": got.get(name_),
                        "expected": gold.get(name_),
                        "category": miss_category(got.get(name_), gold.get(name_)),
                    }
                )
    return scores


def funsd(reader: Reader) -> tuple[int, int, int]:
    exact = close = total = 0
    for path in sorted((EVAL / "funsd" / "kv_pairs").glob("*.json")):
        document = json.loads(path.read_text())
        pairs = [pair for pair in document["pairs"] if pair["question"].strip() and pair["answer"].strip()]
        template: dict[str, str] = {}
        for pair in pairs:
            template.setdefault(pair["question"].strip().rstrip(":").strip() or pair["question"], pair["question"])
        if not template:
            continue
        got, _sources = _fill(reader.lines(EVAL / "funsd" / "images" / f"{document['id']}.png"), template)
        for pair in pairs:
            key = pair["question"].strip().rstrip(":").strip() or pair["question"]
            value, expected = normalise(got.get(key)), normalise(pair["answer"])
            total += 1
            exact += value == expected
            close += bool(value) and SequenceMatcher(None, value, expected).ratio() >= 0.8
    return exact, close, total


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


def _sroie_table(results: dict[str, FieldScores]) -> None:
    print("| set | receipts | " + " | ".join(SROIE_TEMPLATE) + " | mean |")
    print("|---|---|" + "---|" * (len(SROIE_TEMPLATE) + 1))
    for label, scores in results.items():
        accuracy = scores.accuracy()
        cells = " | ".join(f"{accuracy[name]:.3f}" for name in SROIE_TEMPLATE)
        print(f"| {label} | {scores.count} | {cells} | **{scores.mean():.3f}** |")


def _misses_table(results: dict[str, FieldScores]) -> None:
    categories = ("missing", "too much", "too little", "near", "other value")
    print("| set | field | " + " | ".join(categories) + " |")
    print("|---|---|" + "---|" * len(categories))
    for label, scores in results.items():
        for name in SROIE_TEMPLATE:
            counted = Counter(miss["category"] for miss in scores.misses if miss["field"] == name)
            print(f"| {label} | {name} | " + " | ".join(str(counted[category]) for category in categories) + " |")


def _confidence_table(results: dict[str, FieldScores]) -> None:
    """Whether the fields' confidence tells right from wrong."""
    print("\nPer-field confidence (fields filled; right = normalised exact match)\n")
    print("| set | right: mean confidence | wrong: mean confidence | confidence >= 0.8: share of fields, right |")
    print("|---|---|---|---|")
    for label, scores in results.items():
        right = [confidence for confidence, ok in scores.confidences if ok]
        wrong = [confidence for confidence, ok in scores.confidences if not ok]
        sure = [ok for confidence, ok in scores.confidences if confidence >= 0.8]
        print(
            f"| {label} | {statistics.mean(right or [0]):.2f} | {statistics.mean(wrong or [0]):.2f} | "
            f"{len(sure) / max(1, len(scores.confidences)):.2f}, {sum(sure) / max(1, len(sure)):.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="make eval", description=__doc__)
    parser.add_argument("--cache", action="store_true", help="keep and reuse the OCR's lines (.venv/cache/eval-ocr)")
    parser.add_argument("--misses", type=Path, help="write every SROIE miss (set, id, field, got, expected) here")
    parser.add_argument("--skip-textlines", action="store_true", help="receipts and forms only")
    arguments = parser.parse_args()
    started = time.perf_counter()
    engine = LocalEngine()
    reader = Reader(engine, cache=arguments.cache)
    results: dict[str, FieldScores] = {}
    for name in SROIE_SETS:
        if (EVAL / name / "labels").exists():
            print(f"measuring: {name} ...", file=sys.stderr, flush=True)
            results[name] = sroie(reader, name)
    if len(results) == len(SROIE_SETS):
        results["both"] = results["sroie"].add(results["sroie_train"])
    upstream = {}
    if (EVAL / "sroie_train" / "ocr_boxes").exists():
        upstream["sroie_train, the dataset's own lines"] = sroie(reader, "sroie_train", upstream=True)
    print("measuring: FUNSD ...", file=sys.stderr, flush=True)
    exact, close, total = funsd(reader)
    print("\nsnapscribe eval: local engine, template filling (normalised exact match)\n")
    _sroie_table({**results, **upstream})
    print(
        f"\nFUNSD ({total} question-answer pairs): exact {exact / max(1, total):.3f}, "
        f"similarity >= 0.8 {close / max(1, total):.3f}"
    )
    print(
        "\nSROIE misses by category (normalised: missing, the value and more, part of it, within 0.8 similarity, "
        "another value)\n"
    )
    _misses_table({**results, **upstream})
    _confidence_table({**results, **upstream})
    if reader.seconds:
        print(f"\nOCR per image: median {statistics.median(reader.seconds):.2f} s over {len(reader.seconds)} images")
    if arguments.misses:
        misses = [miss for scores in (*results.values(), *upstream.values()) for miss in scores.misses]
        arguments.misses.write_text(json.dumps(misses, ensure_ascii=False, indent=1), encoding="utf-8")
    if not arguments.skip_textlines and (EVAL / "textlines").exists():
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
    print(f"\nmake eval took {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
