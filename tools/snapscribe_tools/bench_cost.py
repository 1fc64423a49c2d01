"""`make bench BENCH=cost`: what 1,000 pages cost in AWS with each engine, from seconds per page measured here and
each function's memory in template.yaml, at list prices. `python -m snapscribe_tools.bench_cost` prints the same as
the README's table.

Per page: the function's billed time (GB-seconds at the arm64 price), one API Gateway request and one Lambda
request (a page a synchronous request: the most requests 1,000 pages can take), and the model's price. The local
engine's seconds are its CPU seconds a page (every thread's), measured on real pages (the sample invoice,
../shared/eval's receipts and forms) on this machine: on two idle vCPUs a page takes at most that long, however
busy this machine was meanwhile (its wall time here is printed beside it). An estimate for arm64 Lambda: a 3008 MB
function has about 1.75 vCPUs of another make (Graviton) than the 2-core x86 machine measured. A network engine's
seconds are its own overhead measured against its loopback stand-in plus the model's answer time, which cannot be
measured offline: it is assumed, and said so. A model's
tokens a page are its input (the image by the provider's documented rule for a page as the engine sends it, the
engine's system instruction and OCR_PROMPT) and its output (the text of the measured pages, 4 characters a token).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from snapscribe_tools.template import PROJECT_ROOT, functions, load_template

EVAL = PROJECT_ROOT.parent / "shared" / "eval"
Row = tuple[str, str, str]

# AWS list prices, us-east-1 (aws.amazon.com/lambda/pricing, /api-gateway/pricing, /textract/pricing): Lambda arm64
# duration (first 7.5 billion GB-s a month) and requests; API Gateway REST requests (first 333 million a month).
PRICES_AS_OF = (
    "list prices as published in 2025 (us-east-1, first pricing tier), written down 2026-12-04 without access to the "
    "providers' pages: check them"
)
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
API_GATEWAY_REST_PER_REQUEST = 3.50 / 1_000_000
TEXTRACT_DETECT_TEXT_PER_PAGE = 1.50 / 1000  # $0.60 a 1,000 beyond a million pages a month
TEXTRACT_QUERIES_PER_PAGE = 15.0 / 1000  # AnalyzeDocument QUERIES: a template's fields
# For comparison only (snapscribe calls neither): Textract AnalyzeDocument FORMS + TABLES, and Mistral OCR.
REFERENCE_PRICES = (
    ("Textract AnalyzeDocument, forms + tables", 65.0, "list price; forms alone $50, tables alone $15"),
    ("Mistral OCR 3 (mistral-ocr-2512, Dec 2025)", 2.0, "list price; $1.00 through its batch API"),
    ("Mistral OCR (mistral-ocr-2503, Mar 2025)", 1.0, "list price at launch; $0.50 through its batch API"),
)
WORKER = "WorkerFunction"  # where a job's pages run; the synchronous image functions have the same memory


@dataclass(frozen=True)
class TokenModel:
    """A language model engine: its list prices per million tokens, and its image tokens for one page."""

    engine: str
    label: str
    input_per_million: float
    output_per_million: float
    image_tokens: int
    image_rule: str
    assumed_seconds: float  # the model's answer time for a page (not measurable offline)
    standin: str  # whose measured overhead stands for this engine's own


# A page as the engines send it: longest side 2048 px (an A4 page at 200 dpi is 1448 x 2048 after that).
TOKEN_MODELS = (
    TokenModel(
        "bedrock:amazon.nova-lite-v1:0",
        "Bedrock, Amazon Nova Lite",
        0.06,
        0.24,
        2600,
        "Nova's image table, its largest row (~2,600 at 1.3K x 1.3K: Nova scales larger pages down)",
        2.0,
        "bedrock",
    ),
    TokenModel(
        "bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "Bedrock, Claude Haiku 4.5",
        1.00,
        5.00,
        1600,
        "w x h / 750 after Claude's own downscale to 1568 px and ~1.15 MP",
        4.0,
        "bedrock",
    ),
    TokenModel(
        "gemini",
        "Gemini 2.5 Flash",
        0.30,
        2.50,
        9 * 258,
        "258 a 768 x 768 tile, 9 tiles for 2048 px",
        3.0,
        "bedrock",
    ),
)
TEXTRACT_ASSUMED_SECONDS = 1.0  # DetectDocumentText answering one page


def lambda_cost(memory_mb: int, seconds: float) -> float:
    """Dollars for one invocation's duration at arm64 prices (Lambda bills memory in GB of 1,024 MB)."""
    return memory_mb / 1024 * seconds * LAMBDA_ARM64_PER_GB_SECOND


def request_cost() -> float:
    """Dollars of requests a page: one API Gateway REST request and one Lambda invocation."""
    return API_GATEWAY_REST_PER_REQUEST + LAMBDA_PER_REQUEST


def token_cost(input_tokens: int, output_tokens: int, input_per_million: float, output_per_million: float) -> float:
    return (input_tokens * input_per_million + output_tokens * output_per_million) / 1_000_000


@dataclass(frozen=True)
class PageCost:
    engine: str
    seconds: float  # billed function time a page
    seconds_note: str
    model: float  # dollars a page
    model_note: str

    def per_thousand(self, memory_mb: int) -> tuple[float, float, float, float]:
        """Lambda, requests, model and total dollars for 1,000 pages."""
        duration = 1000 * lambda_cost(memory_mb, self.seconds)
        requests = 1000 * request_cost()
        model = 1000 * self.model
        return duration, requests, model, duration + requests + model


@dataclass(frozen=True)
class Measured:
    # The local engine's CPU seconds a page (all its threads; median, after the models loaded): what it takes
    # at most on two idle vCPUs whatever else this machine runs meanwhile. Its wall time here is shown beside it.
    local_seconds: float
    local_wall_seconds: float
    local_pages: int
    output_tokens: int  # median of the measured pages' text, 4 characters a token
    overheads: dict[str, float]  # a network engine's own seconds a request, by stand-in


def page_costs(measured: Measured, input_overhead_tokens: int) -> list[PageCost]:
    """Each engine's cost of one page from what was measured; `input_overhead_tokens` is the system
    instruction and the OCR prompt a model reads beside the image."""
    costs = [
        PageCost(
            "local",
            measured.local_seconds,
            f"{measured.local_seconds:.2f} CPU-s a page measured ({measured.local_pages} pages; "
            f"{measured.local_wall_seconds:.2f} s wall here)",
            0.0,
            "no model: RapidOCR in the function",
        )
    ]
    textract_seconds = measured.overheads["textract"] + TEXTRACT_ASSUMED_SECONDS
    seconds_note = f"{measured.overheads['textract'] * 1000:.0f} ms measured + {TEXTRACT_ASSUMED_SECONDS:.1f} s assumed"
    costs.append(
        PageCost(
            "textract",
            textract_seconds,
            seconds_note,
            TEXTRACT_DETECT_TEXT_PER_PAGE,
            "DetectDocumentText $1.50 a 1,000 pages",
        )
    )
    costs.append(
        PageCost(
            "textract, a template's fields",
            textract_seconds,
            seconds_note,
            TEXTRACT_QUERIES_PER_PAGE,
            "AnalyzeDocument QUERIES $15 a 1,000 pages",
        )
    )
    for model in TOKEN_MODELS:
        input_tokens = model.image_tokens + input_overhead_tokens
        overhead = measured.overheads[model.standin]
        costs.append(
            PageCost(
                f"{model.engine} ({model.label})",
                overhead + model.assumed_seconds,
                f"{overhead * 1000:.0f} ms measured + {model.assumed_seconds:.1f} s assumed",
                token_cost(input_tokens, measured.output_tokens, model.input_per_million, model.output_per_million),
                f"{input_tokens:,} in ({model.image_tokens:,} image: {model.image_rule}) + "
                f"{measured.output_tokens:,} out at ${model.input_per_million:.2f}/${model.output_per_million:.2f} "
                "per M",
            )
        )
    return costs


def memory_of(function_id: str = WORKER) -> int:
    return next(item.memory for item in functions(load_template()) if item.logical_id == function_id)


def table(costs: Sequence[PageCost], memory_mb: int) -> list[str]:
    """The README's table: per engine, dollars for 1,000 pages and what they are made of."""
    lines = [
        f"| engine | Lambda ({memory_mb} MB) | requests | model | per 1,000 pages | seconds a page | model's price |",
        "|---|---|---|---|---|---|---|",
    ]
    for cost in costs:
        duration, requests, model, total = cost.per_thousand(memory_mb)
        lines.append(
            f"| `{cost.engine}` | ${duration:.3f} | ${requests:.4f} | ${model:.3f} | **${total:.2f}** | "
            f"{cost.seconds_note} | {cost.model_note} |"
        )
    for name, price, note in REFERENCE_PRICES:
        lines.append(f"| {name} (not an engine here) | | | ${price:.2f} | ${price:.2f} | | {note} |")
    return lines


# Times prepare + read of each page named in argv[1:] in this (fresh) process: what a worker does to a page.
# The first pays for loading the models and is left out.
_LOCAL_PAGES = r"""
import json, sys, time
from pathlib import Path
from snapscribe.engines.base import ExtractionRequest
from snapscribe.engines.local import LocalEngine
from snapscribe.images.prepare import prepare_image
engine = LocalEngine()
walls, cpus, texts = [], [], []
for path in sys.argv[1:]:
    started, cpu = time.perf_counter(), time.process_time()
    image = prepare_image(Path(path).read_bytes(), max_side=engine.max_image_side, max_pixels=80_000_000)
    result = engine.extract(ExtractionRequest(images=[image], prompt="x"))
    walls.append(time.perf_counter() - started)
    cpus.append(time.process_time() - cpu)
    texts.append(result.text)
print(json.dumps({"walls": walls[1:], "cpus": cpus[1:], "texts": texts}))
"""


def sample_pages() -> list[Path]:
    pages = [PROJECT_ROOT / "samples" / "invoice.png"]
    pages += sorted((EVAL / "sroie" / "images").glob("*.jpg"))[:8]
    pages += sorted((EVAL / "funsd" / "images").glob("*.png"))[:4]
    return pages


def measure() -> Measured:
    from snapscribe.engines.tokens import estimate_tokens
    from snapscribe_tools.bench_engines import _median_ms

    pages = sample_pages()
    output = subprocess.run(
        [sys.executable, "-c", _LOCAL_PAGES, str(pages[0]), *map(str, pages)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(output.stdout.strip().splitlines()[-1])
    overheads = {family: _median_ms(family, 0.0) / 1000 for family in ("textract", "bedrock")}
    return Measured(
        local_seconds=statistics.median(figures["cpus"]),
        local_wall_seconds=statistics.median(figures["walls"]),
        local_pages=len(figures["cpus"]),
        output_tokens=int(statistics.median(estimate_tokens(text) for text in figures["texts"][1:])),
        overheads=overheads,
    )


def input_overhead_tokens() -> int:
    from snapscribe.engines.gemini import SYSTEM_INSTRUCTIONS
    from snapscribe.engines.tokens import estimate_tokens
    from snapscribe.operations.ocr_by_key import OCR_PROMPT

    return estimate_tokens(SYSTEM_INSTRUCTIONS["general"]) + estimate_tokens(OCR_PROMPT)


def cost() -> list[Row]:
    """The bench section: one row an engine."""
    memory = memory_of()
    measured = measure()
    rows: list[Row] = []
    for page in page_costs(measured, input_overhead_tokens()):
        duration, requests, model, total = page.per_thousand(memory)
        rows.append(
            (
                f"cost per 1,000 pages: {page.engine}",
                f"${total:.2f}",
                f"Lambda ${duration:.3f} ({page.seconds_note}, {memory} MB) + requests ${requests:.4f} + "
                f"model ${model:.3f} ({page.model_note})",
            )
        )
    rows.append(("cost: prices", PRICES_AS_OF, "the local seconds are this machine's: an estimate for arm64 Lambda"))
    return rows


def main() -> None:
    memory = memory_of()
    measured = measure()
    print("\n".join(table(page_costs(measured, input_overhead_tokens()), memory)))
    print(
        f"\n{PRICES_AS_OF}; seconds measured on this machine ({measured.local_pages} pages, "
        f"median output {measured.output_tokens} tokens a page)."
    )


if __name__ == "__main__":
    main()
