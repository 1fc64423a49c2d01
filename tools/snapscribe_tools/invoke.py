"""Invoke one handler with one event against an in-memory AWS built from template.yaml."""

from __future__ import annotations

from typing import Any

from snapscribe_tools.lambdas import LocalFunction, apply_environment, function_environment
from snapscribe_tools.resources import create_all, local_names
from snapscribe_tools.stack import LOCAL_PARAMETERS
from snapscribe_tools.template import Resolver, functions, load_template

EVENT_CREDITS = 1000


def prepare_fresh_aws(session: Any, parameters: dict[str, str] | None = None) -> dict[str, str]:
    """Create the template's resources in the (mocked) AWS behind `session`; the environment to use."""
    template = load_template()
    names = local_names(template)
    resolver = Resolver(template, {**LOCAL_PARAMETERS, **(parameters or {})}, names)
    create_all(template, session, names, resolver)
    environment = function_environment(functions(template), resolver)
    environment.pop("SNAPSCRIBE_GEMINI_API_KEY_PARAMETER", None)
    environment.update(
        {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    )
    return environment


def seed_event_key(event: dict[str, Any]) -> None:
    from snapscribe.accounts.keys import key_from_headers
    from snapscribe.services import from_environment

    raw_key = key_from_headers(event.get("headers") or {})
    if raw_key and len(raw_key) >= 8:
        from_environment().accounts.create_key(user_id="events", credits=EVENT_CREDITS, rate_limit=600, raw_key=raw_key)


def invoke_with_fresh_aws(function_id: str, event: dict[str, Any], *, seed_key: bool = True) -> Any:
    import os

    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    apply_environment(prepare_fresh_aws(boto3.session.Session(region_name="us-east-1")))
    if seed_key:
        seed_event_key(event)
    definition = next(item for item in functions(load_template()) if item.logical_id == function_id)
    return LocalFunction(definition).invoke(event)


def invoke_on_running_stack(function_id: str, event: dict[str, Any]) -> Any:
    """The handler, in this process, with the running stack's AWS and the function's own variables."""
    from snapscribe_tools.stack import base_environment, read_state

    state = read_state()
    if state is None:
        raise SystemExit("No local stack is running (start it with `make run`).")
    template = load_template()
    definition = next(item for item in functions(template, state["parameters"]) if item.logical_id == function_id)
    resolver = Resolver(template, state["parameters"], state["names"])
    environment = function_environment([definition], resolver)
    environment.pop("SNAPSCRIBE_GEMINI_API_KEY_PARAMETER", None)
    apply_environment({**environment, **base_environment(state["awsEndpoint"])})
    return LocalFunction(definition).invoke(event)
