"""The cost table's arithmetic (snapscribe_tools/bench_cost.py), from given seconds and tokens: no timing here
(`make bench BENCH=cost` measures them)."""

from __future__ import annotations

import pytest

from snapscribe_tools import bench_cost
from snapscribe_tools.bench_cost import Measured, PageCost, lambda_cost, page_costs, request_cost, table, token_cost

MEASURED = Measured(
    local_seconds=2.0,
    local_wall_seconds=2.5,
    local_pages=12,
    output_tokens=300,
    overheads={"textract": 0.01, "bedrock": 0.02},
)


def test_lambda_duration_is_gigabytes_of_1024_mb_times_seconds_at_the_arm64_price() -> None:
    assert lambda_cost(1024, 1.0) == pytest.approx(0.0000133334)
    assert lambda_cost(3008, 2.0) == pytest.approx(3008 / 1024 * 2.0 * 0.0000133334)
    assert 1000 * lambda_cost(3008, 1.0) == pytest.approx(0.039167, abs=1e-6)


def test_a_page_pays_one_api_gateway_and_one_lambda_request() -> None:
    assert 1000 * request_cost() == pytest.approx((3.50 + 0.20) / 1000)


def test_tokens_are_priced_per_million_in_and_out() -> None:
    assert token_cost(2_000, 500, 0.30, 2.50) == pytest.approx((2_000 * 0.30 + 500 * 2.50) / 1e6)
    assert 1000 * token_cost(1_000_000, 0, 1.0, 5.0) == pytest.approx(1000.0)


def test_a_pages_costs_add_up_per_thousand() -> None:
    page = PageCost("x", seconds=1.5, seconds_note="", model=0.0015, model_note="")
    duration, requests, model, total = page.per_thousand(2048)
    assert duration == pytest.approx(1000 * 2 * 1.5 * 0.0000133334)
    assert requests == pytest.approx(0.0037)
    assert model == pytest.approx(1.5)
    assert total == pytest.approx(duration + requests + model)


def test_each_engine_is_priced_from_what_was_measured() -> None:
    costs = {cost.engine.split(" (")[0]: cost for cost in page_costs(MEASURED, input_overhead_tokens=100)}
    assert costs["local"].seconds == 2.0
    assert costs["local"].model == 0.0
    assert costs["textract"].seconds == pytest.approx(0.01 + bench_cost.TEXTRACT_ASSUMED_SECONDS)
    assert costs["textract"].model == pytest.approx(1.50 / 1000)
    assert costs["textract, a template's fields"].model == pytest.approx(15.0 / 1000)
    gemini = next(model for model in bench_cost.TOKEN_MODELS if model.engine == "gemini")
    assert costs["gemini"].seconds == pytest.approx(0.02 + gemini.assumed_seconds)
    assert costs["gemini"].model == pytest.approx(((2322 + 100) * 0.30 + 300 * 2.50) / 1e6)
    nova = costs["bedrock:amazon.nova-lite-v1:0"]
    assert nova.model == pytest.approx(((2600 + 100) * 0.06 + 300 * 0.24) / 1e6)


def test_the_table_prints_each_engines_total_and_the_reference_list_prices() -> None:
    lines = table(page_costs(MEASURED, input_overhead_tokens=100), memory_mb=3008)
    assert lines[0].startswith("| engine | Lambda (3008 MB) |")
    local = next(line for line in lines if line.startswith("| `local` |"))
    # 2 s at 3008 MB: $0.0783 a 1,000 pages, plus $0.0037 of requests.
    assert local.split(" | ")[1:5] == ["$0.078", "$0.0037", "$0.000", "**$0.08**"]
    textract = next(line for line in lines if line.startswith("| `textract` |"))
    assert "**$1.54**" in textract
    assert any(line.startswith("| Mistral OCR 3") and "$2.00" in line for line in lines)


def test_the_memory_is_the_workers_in_the_template() -> None:
    from snapscribe_tools.template import functions, load_template

    worker = next(item for item in functions(load_template()) if item.logical_id == "WorkerFunction")
    assert bench_cost.memory_of() == worker.memory
