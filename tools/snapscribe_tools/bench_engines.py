"""`make bench BENCH=engines`: each network engine against its loopback stand-in, through the real SDK and the
registry a function uses: the median time of one request with the stand-in answering at once, and with it taking
a fixed model time, so the engine's own overhead per request (preparing and encoding the image, the SDK's
serializing, signing and parsing) shows beside the model's time."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from snapscribe_tools.template import PROJECT_ROOT

RUNS = 20
MODEL_SECONDS = 0.2  # the stand-in's answer time in the second measurement
ENGINES = {"bedrock": "bedrock:amazon.nova-lite-v1:0", "textract": "textract", "openai": "openai:standin-vl"}
VARIABLES = {
    "bedrock": "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "textract": "AWS_ENDPOINT_URL_TEXTRACT",
    "openai": "SNAPSCRIBE_OPENAI_BASE_URL",
}

Row = tuple[str, str, str]


@contextmanager
def _standin(family: str, delay: float) -> Iterator[str]:
    from snapscribe_tools.standins import bedrock, openai, textract

    module: Any = {"bedrock": bedrock, "textract": textract, "openai": openai}[family]
    server, url = module.serve(delay=delay)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def _median_ms(family: str, delay: float) -> float:
    from snapscribe.config import Settings
    from snapscribe.engines.base import ExtractionRequest
    from snapscribe.engines.registry import Engines
    from snapscribe.images.prepare import prepare_image
    from snapscribe.services import AwsClients

    data = (PROJECT_ROOT / "samples" / "invoice.png").read_bytes()
    with _standin(family, delay) as url:
        variables = {
            VARIABLES[family]: url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        with mock.patch.dict(os.environ, variables):
            settings = Settings(engines=ENGINES[family], openai_base_url=url)
            engine = Engines(settings, AwsClients())(ENGINES[family])
            samples = []
            for _ in range(RUNS + 1):  # the first, unmeasured, makes the client and its connection
                started = time.perf_counter()
                image = prepare_image(data, max_side=engine.max_image_side, max_pixels=settings.max_image_pixels)
                engine.extract(ExtractionRequest(images=[image], prompt="Read the invoice number"))
                samples.append(time.perf_counter() - started)
    return statistics.median(samples[1:]) * 1000


def engines() -> list[Row]:
    rows: list[Row] = []
    for family in ENGINES:
        instant = _median_ms(family, 0.0)
        slow = _median_ms(family, MODEL_SECONDS)
        rows.append((f"{family} engine, stand-in answering at once", f"{instant:.1f} ms", f"median of {RUNS}"))
        rows.append(
            (
                f"{family} engine, stand-in taking {MODEL_SECONDS * 1000:.0f} ms",
                f"{slow:.1f} ms",
                f"overhead {slow - MODEL_SECONDS * 1000:.1f} ms a request",
            )
        )
    return rows
