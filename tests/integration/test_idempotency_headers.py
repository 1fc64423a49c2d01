"""An Idempotency-Key replayed with another request is refused as a changed body always was (400, in the route's
shape): another body, but also another `Prefer` (the call now, or a job) or another `Callback-Url` (where the job's
webhook goes). A replay of the same request still gets the first answer, uncharged; other preferences are no change.
Through the real handlers of two charging routes under moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from snapscribe.services import from_environment
from tests.conftest import body_of, invoke, load_event

CALLBACK = "https://93.184.215.14/hooks/snapscribe"  # a public address: vetted without a name to resolve
OTHER_CALLBACK = "https://93.184.215.14/hooks/elsewhere"
ROUTES = {
    "extract_image": ("ExtractImageFunction", "extract_image_base64"),
    "extract_structured": ("StructuredExtractionFunction", "extract_structured"),
}


@pytest.fixture
def funded(events_key: str) -> str:
    from_environment().accounts.store.add_credits(events_key, 99_000)
    return events_key


def _event(route: str, key: str, **headers: str) -> dict[str, Any]:
    event = load_event(ROUTES[route][1])
    for name, value in {"Idempotency-Key": key, **headers}.items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def _send(route: str, event: dict[str, Any]) -> dict[str, Any]:
    return invoke(ROUTES[route][0], event)


def _state() -> tuple[int, int, int]:
    """(balance, ledger rows, jobs): what a refused replay must leave as it was."""
    services = from_environment()
    return (
        int(services.accounts.store.get_balance("events")),
        len(list(services.accounts.store.ledger("events"))),
        len(services.jobs.store.list_for("events", limit=50, cursor=None).jobs),
    )


def _refused_as_reused(route: str, result: dict[str, Any]) -> None:
    assert result["statusCode"] == 400, result["body"]
    body = body_of(result)
    message = body["base_resp"]["status_msg"] if route == "extract_structured" else body["error"]
    assert (
        message == "This Idempotency-Key was already used with a different request (its body, Prefer or Callback-Url)"
    )
    if route == "extract_structured":
        assert body["base_resp"]["status_code"] == 100001


FIRST_THEN_REPLAY = {
    "now-then-as-a-job": ({}, {"Prefer": "respond-async"}),
    "a-job-then-now": ({"Prefer": "respond-async"}, {}),
    "a-job-then-a-job-with-a-callback": (
        {"Prefer": "respond-async"},
        {"Prefer": "respond-async", "Callback-Url": CALLBACK},
    ),
    "a-callback-then-another": (
        {"Prefer": "respond-async", "Callback-Url": CALLBACK},
        {"Prefer": "respond-async", "Callback-Url": OTHER_CALLBACK},
    ),
    "a-callback-then-none": ({"Prefer": "respond-async", "Callback-Url": CALLBACK}, {"Prefer": "respond-async"}),
}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("change", list(FIRST_THEN_REPLAY))
def test_a_replay_with_another_prefer_or_callback_url_is_refused_like_another_body(
    funded: str, route: str, change: str
) -> None:
    first_headers, replay_headers = FIRST_THEN_REPLAY[change]
    first = _send(route, _event(route, f"key-{change}", **first_headers))
    assert first["statusCode"] in (200, 202), first["body"]
    before = _state()
    _refused_as_reused(route, _send(route, _event(route, f"key-{change}", **replay_headers)))
    assert _state() == before  # nothing charged, held or queued for the refused replay
    # The first request, replayed as it was, still gets its first answer.
    again = _send(route, _event(route, f"key-{change}", **first_headers))
    assert (again["statusCode"], body_of(again)) == (first["statusCode"], body_of(first))
    assert _state() == before


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_replay_of_the_same_job_gets_the_first_202_and_admits_no_second_job(funded: str, route: str) -> None:
    headers = {"Prefer": "respond-async", "Callback-Url": CALLBACK}
    first = _send(route, _event(route, "same-job", **headers))
    assert first["statusCode"] == 202, first["body"]
    before = _state()
    # Other preferences, the header's case and spacing, the URL's surrounding blanks: the same request.
    replay = _send(
        route, _event(route, "same-job", Prefer="wait=10, RESPOND-ASYNC", **{"Callback-Url": f" {CALLBACK} "})
    )
    assert (replay["statusCode"], body_of(replay)) == (202, body_of(first))
    assert _state() == before


def test_a_replay_with_another_body_is_refused_with_the_same_error(funded: str) -> None:
    _send("extract_image", _event("extract_image", "body-changed"))
    event = _event("extract_image", "body-changed")
    event["body"] = json.dumps({**json.loads(event["body"]), "prompt": "Something else"})
    _refused_as_reused("extract_image", _send("extract_image", event))
