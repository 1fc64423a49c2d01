"""Lambda's execution environments, locally: warm worker processes, one invocation each at a time, and an
invocation that outlives its function's Timeout stopped (the process killed and replaced), as AWS does.

Each function gets its own processes with its own environment (the template's variables for that function),
so that a function that reads a setting the template does not give it fails locally as it would in AWS.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from snapscribe_tools.template import FunctionDef

log = logging.getLogger("snapscribe.instances")
_SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing inherited but the environment


class FunctionTimeout(Exception):
    """The invocation ran past its function's Timeout and was stopped."""


class FunctionError(Exception):
    """The handler raised (Lambda's 'Unhandled' function error)."""


PARENT_POLL_SECONDS = 0.5
# For tests: FunctionId=/path/to/module.py[,...], modules a function's processes run before they load its handler
# (tests/e2e/marked_images.py gives the worker a reader of the images a test marks). Unset in any real use.
PRELOAD = "SNAPSCRIBE_LOCAL_PRELOAD"


def _preload(function_id: str, setting: str) -> None:
    for entry in filter(None, setting.split(",")):
        target, _, path = entry.partition("=")
        if target.strip() != function_id:
            continue
        name = f"snapscribe_preload_{Path(path).stem}"
        spec = importlib.util.spec_from_file_location(name, path.strip())
        if spec is None or spec.loader is None:
            raise ImportError(f"{PRELOAD}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def _exit_with(parent: int) -> None:
    """End this process as soon as the stack that started it is gone, even mid-invocation: a stack killed
    (SIGKILL, a crash) cannot stop its instances itself. Polled, not PR_SET_PDEATHSIG: that fires when the
    *thread* that started the child ends, and instances are started from request and poller threads."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _serve(definition: FunctionDef, environment: dict[str, str], connection: Connection, parent: int) -> None:
    """The child: load the handler once (a cold start), then run one event at a time."""
    # Ctrl-C reaches the whole process group: the stack stops its instances itself, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), name="exit-with-stack", daemon=True).start()
    os.environ.clear()
    os.environ.update(environment)
    _preload(definition.logical_id, environment.get(PRELOAD, ""))
    from snapscribe_tools.lambdas import LocalFunction, LocalLambdaContext

    function = LocalFunction(definition)
    handler_name = definition.handler.rpartition(".")[2]
    handler = getattr(function._load(), handler_name)
    connection.send(("ready", os.getpid()))
    while True:
        try:
            event, request_id = connection.recv()
        except EOFError:
            return
        context = LocalLambdaContext(
            function_name=definition.logical_id,
            memory_limit_in_mb=definition.memory,
            timeout_seconds=definition.timeout,
            aws_request_id=request_id,
        )
        try:
            connection.send(("ok", handler(event, context)))
        except BaseException as error:
            connection.send(("error", f"{type(error).__name__}: {error}\n{traceback.format_exc()}"))


@dataclass
class _Instance:
    process: Any  # multiprocessing.Process (spawn context)
    connection: Connection


@dataclass
class FunctionInstances:
    definition: FunctionDef
    environment: dict[str, str]
    max_instances: int = 2
    on_change: Any = None  # called with the live pids when instances come or go
    _idle: list[_Instance] = field(default_factory=list)
    _all: list[_Instance] = field(default_factory=list)
    _condition: threading.Condition = field(default_factory=threading.Condition)
    _closed: bool = False

    def _spawn(self) -> _Instance:
        parent, child = _SPAWN.Pipe()
        process = _SPAWN.Process(
            target=_serve,
            args=(self.definition, self.environment, child, os.getpid()),
            name=f"lambda-{self.definition.logical_id}",
            daemon=True,
        )
        process.start()
        child.close()
        if not parent.poll(120):  # imports: a cold start, not an invocation's time
            process.kill()
            raise FunctionError(f"{self.definition.logical_id} did not start")
        status, _pid = parent.recv()
        if status != "ready":
            raise FunctionError(f"{self.definition.logical_id} did not start")
        return _Instance(process, parent)

    def _acquire(self) -> _Instance:
        with self._condition:
            while True:
                if self._closed:
                    raise FunctionError("the local stack is stopping")
                if self._idle:
                    return self._idle.pop()
                if len(self._all) < self.max_instances:
                    placeholder = _Instance(None, None)  # type: ignore[arg-type]
                    self._all.append(placeholder)
                    break
                self._condition.wait()
        try:
            instance = self._spawn()
        except BaseException:
            with self._condition:
                self._all.remove(placeholder)
                self._condition.notify()
            raise
        with self._condition:
            self._all[self._all.index(placeholder)] = instance
        self._changed()
        return instance

    def _release(self, instance: _Instance, *, alive: bool) -> None:
        with self._condition:
            if alive and not self._closed:
                self._idle.append(instance)
            else:
                self._all.remove(instance)
            self._condition.notify()
        if not alive:
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.definition.logical_id, self.pids())

    def pids(self) -> list[int]:
        with self._condition:
            return [instance.process.pid for instance in self._all if instance.process is not None]

    def invoke(self, event: Mapping[str, Any], request_id: str) -> Any:
        instance = self._acquire()
        try:
            instance.connection.send((dict(event), request_id))
            if not instance.connection.poll(self.definition.timeout):
                raise FunctionTimeout(
                    f"{self.definition.logical_id}: task timed out after {self.definition.timeout} seconds"
                )
            status, payload = instance.connection.recv()
        except (FunctionTimeout, EOFError, OSError) as error:
            instance.process.kill()  # stopped mid-work, as Lambda stops it: nothing after this line runs
            instance.process.join(5)
            self._release(instance, alive=False)
            if isinstance(error, FunctionTimeout):
                raise
            raise FunctionError(f"{self.definition.logical_id}: the process died ({error})") from error
        self._release(instance, alive=True)
        if status == "error":
            raise FunctionError(payload)
        return payload

    def close(self) -> None:
        with self._condition:
            self._closed = True
            instances, self._all, self._idle = list(self._all), [], []
            self._condition.notify_all()
        for instance in instances:
            if instance.process is not None:
                instance.process.kill()
        deadline = time.monotonic() + 5
        for instance in instances:
            if instance.process is not None:
                instance.process.join(max(0.1, deadline - time.monotonic()))
