"""`make openapi`: write the OpenAPI document the service serves at GET /openapi.json to docs/openapi.json, for
readers, client generators and API Gateway imports (tests/template/test_openapi.py fails when it is stale)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from snapscribe.routes.api_docs import document as openapi_document

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def rendered() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    COMMITTED.write_text(rendered(), encoding="utf-8")
    print(f"wrote {COMMITTED.relative_to(Path.cwd()) if COMMITTED.is_relative_to(Path.cwd()) else COMMITTED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
