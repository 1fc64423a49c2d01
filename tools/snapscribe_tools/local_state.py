"""Where the running local stack (`make run`) is: its state file, written by the stack and read by the CLI.

Apart from stack.py so that the client (`snapscribe submit`, `jobs`, `account`), installed with its small
dependencies alone (`pip install ".[client]"`), finds the stack without importing it (moto, boto3, the handlers).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# The checkout's root (template.PROJECT_ROOT): a developer's `make run` writes here.
STATE_FILE = Path(__file__).resolve().parents[2] / ".snapscribe" / "local-stack.json"
# Where a stack writes, and the CLI reads, the running stack's state, when not STATE_FILE: so that the stacks of
# a test run do not take the place of a developer's `make run` (nor of each other).
STATE_FILE_VARIABLE = "SNAPSCRIBE_STATE_FILE"


def state_file() -> Path:
    return Path(os.environ.get(STATE_FILE_VARIABLE) or STATE_FILE)


def read_state() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(state_file().read_text())
        return state
    except (OSError, json.JSONDecodeError):
        return None
