"""pyproject.toml installs every package of the tree: a package missing from its list is missing from an install
that is not editable (a wheel of the client, say)."""

from __future__ import annotations

import tomllib

from tests.conftest import PROJECT_ROOT


def test_pyproject_lists_every_package() -> None:
    settings = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = set()
    for package, folder in settings["package-dir"].items():
        root = PROJECT_ROOT / folder
        found |= {".".join([package, *init.parent.relative_to(root).parts]) for init in root.rglob("__init__.py")}
    assert set(settings["packages"]) == found
