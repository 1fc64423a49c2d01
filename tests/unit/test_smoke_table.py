"""`snapscribe smoke`'s own logic, without a stack: the table it prints, which checks are skipped when one fails or
nothing answers, and a 429 waited out as it asks. Its checks against a running stack are tests/e2e/test_smoke.py."""

from __future__ import annotations

import httpx
import pytest

from snapscribe_tools.smoke import Check, CheckFailed, Outcome, Smoke, Unreachable, render, run_checks


def _smoke(handler: object = None, sleeps: list[float] | None = None) -> Smoke:
    transport = httpx.MockTransport(handler or (lambda request: httpx.Response(200, json={})))  # type: ignore[arg-type]
    return Smoke(
        http=httpx.Client(base_url="http://api.test", transport=transport),
        image=b"png",
        image_name="invoice.png",
        sleep=(sleeps if sleeps is not None else []).append,
    )


def test_the_table_has_a_row_a_check_with_its_result_status_ms_and_detail_and_counts_them() -> None:
    table = render(
        [
            Outcome("account: GET /api/v1/account", "PASS", 200, 12.4, "balance 10000"),
            Outcome("extract-image: POST /api/v1/extract-image", "FAIL", 500, 1503.6, "HTTP 500:\n  engine  failed"),
            Outcome("job: extract-image with Prefer: respond-async", "SKIP", None, None, "needs account"),
        ]
    )
    lines = table.splitlines()
    assert lines[0].split("|")[1:-1] == [
        " check                                         ",
        " result ",
        " HTTP ",
        "   ms ",
        " detail                  ",
    ]
    assert set(lines[1]) == {"|", "-"}
    assert len(lines[1]) == len(lines[0])
    assert lines[2] == (
        "| account: GET /api/v1/account                  | PASS   |  200 |   12 | balance 10000           |"
    )
    assert lines[3] == (
        "| extract-image: POST /api/v1/extract-image     | FAIL   |  500 | 1504 | HTTP 500: engine failed |"
    )
    assert lines[4] == (
        "| job: extract-image with Prefer: respond-async | SKIP   |      |      | needs account           |"
    )
    assert lines[-1] == "1 of 3 checks passed; FAILED: extract-image; 1 skipped."
    assert render([Outcome("a: GET /", "PASS", 200, 1.0, "ok")]).splitlines()[-1] == "1 of 1 checks passed."


def test_a_long_detail_is_cut_to_the_width() -> None:
    row = render([Outcome("a", "PASS", 200, 1.0, "x" * 500)], detail_width=30).splitlines()[2]
    assert row.endswith("| " + "x" * 30 + " |")


def test_a_failed_check_skips_those_that_need_it_and_only_those() -> None:
    ran: list[str] = []

    def passing(name: str) -> Check:
        return Check(name, lambda smoke: (ran.append(name), (200, "fine"))[1])

    def failing(smoke: Smoke) -> tuple[int, str]:
        raise CheckFailed("HTTP 401: Invalid or missing Authorization header", 401)

    outcomes = run_checks(
        _smoke(),
        [
            passing("first: GET /"),
            Check("key: GET /account", failing),
            Check("needs key: POST /x", lambda smoke: (200, "never"), ("key: GET /account",)),
            Check("needs first: POST /y", lambda smoke: (ran.append("y"), (201, "fine"))[1], ("first: GET /",)),
        ],
    )
    assert [(outcome.result, outcome.status) for outcome in outcomes] == [
        ("PASS", 200),
        ("FAIL", 401),
        ("SKIP", None),
        ("PASS", 201),
    ]
    assert outcomes[1].detail == "HTTP 401: Invalid or missing Authorization header"
    assert outcomes[2].detail == "needs key, which did not pass"
    assert ran == ["first: GET /", "y"]


def test_no_answer_skips_every_check_after_it() -> None:
    def unreachable(smoke: Smoke) -> tuple[int, str]:
        raise Unreachable("no answer from http://api.test/openapi.json: connection refused")

    outcomes = run_checks(
        _smoke(), [Check("docs: GET /openapi.json", unreachable), Check("b: GET /b", lambda smoke: (200, "never"))]
    )
    assert [outcome.result for outcome in outcomes] == ["FAIL", "SKIP"]
    assert outcomes[1].detail == "the API did not answer"


def test_a_connection_refused_is_a_failed_check_not_an_exception() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(Unreachable, match=r"no answer from http://api\.test/openapi\.json: connection refused"):
        _smoke(refuse).request("GET", "/openapi.json", (200,))


def test_a_429_is_waited_out_as_retry_after_says_then_a_fourth_fails_the_check() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "3"}, json={"error": "Rate limit"})] * 2
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, json={"balance": 1})

    assert _smoke(handler, sleeps).request("GET", "/api/v1/account", (200,)).json() == {"balance": 1}
    assert sleeps == [3.0, 3.0]

    always: list[float] = []
    limited = _smoke(lambda request: httpx.Response(429, json={"error": "Rate limit of 60 requests"}), always)
    with pytest.raises(CheckFailed, match="HTTP 429: Rate limit of 60 requests") as failure:
        limited.request("GET", "/api/v1/account", (200,))
    assert failure.value.status == 429
    assert always == [5.0, 5.0, 5.0]  # no Retry-After: 5 s, three times


def test_an_answer_of_another_shape_fails_its_check_not_the_run() -> None:
    # A server that is not the API (a wrong --api) answers JSON of its own: each check fails, nothing raises.
    smoke = _smoke(lambda request: httpx.Response(200, json=[]))
    outcomes = run_checks(smoke)
    by_check = {outcome.check.split(":")[0]: outcome for outcome in outcomes}
    assert by_check["API description"].result == "FAIL"
    assert by_check["account"].result == "FAIL"
    assert by_check["account"].detail.startswith("the answer is not the API's: TypeError")
    assert {outcome.result for outcome in outcomes} <= {"FAIL", "SKIP"}
