"""A route described once: one declaration holds its method and path (as template.yaml writes them), the request
model, the answer's model and status, the error statuses (their bodies from the API's error table), the OpenAPI
text and examples, and what it calls. The same declaration registers the route with Powertools' router, with the
middleware its kind of route needs (the API's error shape; for keyed routes authentication, the rate window and
idempotency), and describes it in the OpenAPI document (web/openapi/document.py), which the tests hold against
template.yaml's events.

A charging route names its work kind (operations/kinds.py): its answer's status, model and errors are the kind's,
and the route runs it now or, with `Prefer: respond-async`, as a job (web/work.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel

from snapscribe.contracts.errors import ErrorTable
from snapscribe.web.middleware import account_checks, answer_errors_in

if TYPE_CHECKING:  # the plan's module imports the image code: only the charging routes need it
    from snapscribe.jobs.plan import JobKind

HandlerT = TypeVar("HandlerT", bound=Callable[..., Response[Any]])
Link = tuple[int, str, dict[str, Any]]  # (status, name, OpenAPI link): what a client does next
ReadRequest = Callable[[APIGatewayRouter], Any]  # a charging route's request, read from the event


@dataclass(frozen=True)
class QueryParameter:
    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Route:
    name: str  # the operationId, the handler, the template's event id in CamelCase, the ledger's fixtures
    method: str
    path: str  # as the template writes it: /api/v1/jobs/{jobId}
    api: str  # the tag: which API it belongs to
    summary: str
    status: int  # of success
    answer: type[BaseModel] | None  # None: any JSON object, or the page of a text/html route
    errors: ErrorTable
    public: bool = False  # no API key
    error_statuses: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    form: bool = False  # the body is multipart/form-data
    query: tuple[QueryParameter, ...] = ()
    kind: JobKind | None = None  # it charges: now, or as a job (Prefer: respond-async, 202) with Callback-Url
    idempotent: bool = False  # Idempotency-Key
    description: str = ""
    example: dict[str, Any] | None = None  # a request body
    content_type: str = "application/json"  # of the answer
    links: tuple[Link, ...] = ()

    @property
    def charging(self) -> bool:
        return self.kind is not None

    @property
    def rule(self) -> str:
        """The path as Powertools' router writes it, its parameters named as the handler's arguments:
        /api/v1/jobs/{jobId} -> /api/v1/jobs/<job_id>."""
        return re.sub(r"{(\w+)}", lambda found: f"<{snake_case(found[1])}>", self.path)


def snake_case(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


class Api:
    """One API: its tag and description, its error table, a Powertools router, and its routes' declarations.
    A function's handler includes the router; the OpenAPI document reads the declarations."""

    def __init__(self, name: str, description: str, errors: ErrorTable, *, public: bool = False) -> None:
        self.name = name
        self.description = description
        self.errors = errors
        self.public = public
        self.router = APIGatewayRouter()
        self.routes: list[Route] = []

    def route(
        self, method: str, path: str, *, name: str | None = None, **described: Any
    ) -> Callable[[HandlerT], HandlerT]:
        """Declare the decorated function's route (its name is the route's, unless `name` says otherwise)."""

        def register(handler: HandlerT) -> HandlerT:
            self._add(
                Route(name=name or handler.__name__, method=method, path=path, **self._defaults(described)), handler
            )
            return handler

        return register

    def charging(
        self, method: str, path: str, *, name: str, kind: JobKind, read: ReadRequest, **described: Any
    ) -> Route:
        """Declare a charging route: `read` takes its request from the event, and the kind's work runs on it now
        or as a job. Its answer (status, model, errors) is the kind's."""
        from snapscribe.web.work import perform

        answer = {"status": kind.status, "answer": kind.answer_model, "errors": kind.errors}
        route = Route(name=name, method=method, path=path, kind=kind, **self._defaults(answer | described))

        takes_fields = FIELDS in route.query

        def handler() -> Response[str]:
            return perform(self.router, kind, read(self.router), takes_fields=takes_fields)

        handler.__name__ = handler.__qualname__ = name
        self._add(route, handler)
        return route

    def _defaults(self, described: dict[str, Any]) -> dict[str, Any]:
        return {"api": self.name, "errors": self.errors, "public": self.public, "status": 200, **described}

    def _add(self, route: Route, handler: Callable[..., Response[Any]]) -> None:
        assert route.errors is self.errors, f"{route.name}: an API answers its errors in one shape"
        if route.public:
            middlewares = [answer_errors_in(route.errors)]
        else:
            middlewares = account_checks(route.errors, idempotent=route.idempotent)
        self.router.route(route.rule, route.method.upper(), middlewares=middlewares)(handler)
        self.routes.append(route)


FIELDS = QueryParameter(
    "fields",
    {"type": "string", "enum": ["true", "false", "1", "0"], "default": "false"},
    "true adds `fields` to the answer: each filled field's value, confidence (0-1), page and box by JSON pointer. "
    "Without it the body is exactly as the contract specifies.",
)
