"""Load the handlers template.yaml names and invoke them as the Lambda runtime would, without Docker."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from snapscribe_tools.template import FunctionDef, Resolver


@dataclass
class LocalLambdaContext:
    """The attributes of the runtime's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def function_environment(functions: list[FunctionDef], resolver: Resolver) -> dict[str, str]:
    """Every function's variables, resolved. Locally all functions share one process and one environment."""
    environment: dict[str, str] = {}
    for function in functions:
        for name, value in function.environment.items():
            environment[name] = str(resolver.resolve(value))
    return environment


class LocalFunction:
    """One function: its handler module loaded once, invoked one event at a time (as one Lambda instance)."""

    def __init__(self, definition: FunctionDef) -> None:
        self.definition = definition
        self._module: ModuleType | None = None
        self._lock = threading.Lock()

    def _load(self) -> ModuleType:
        if self._module is None:
            module_name, _, _ = self.definition.handler.rpartition(".")
            path = self.definition.code_uri / (module_name.replace(".", "/") + ".py")
            unique = f"snapscribe_fn_{self.definition.logical_id}"
            spec = importlib.util.spec_from_file_location(unique, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module
            spec.loader.exec_module(module)
            self._module = module
        return self._module

    def invoke(self, event: Mapping[str, Any]) -> Any:
        handler_name = self.definition.handler.rpartition(".")[2]
        with self._lock:
            handler = getattr(self._load(), handler_name)
            context = LocalLambdaContext(
                function_name=self.definition.logical_id,
                memory_limit_in_mb=self.definition.memory,
                timeout_seconds=self.definition.timeout,
            )
            return handler(dict(event), context)


def apply_environment(environment: Mapping[str, str]) -> None:
    for name, value in environment.items():
        os.environ[name] = value
