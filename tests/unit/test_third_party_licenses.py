"""THIRD_PARTY_LICENSES.md is current, and every package the layer and the image ship has a known licence that is
not GPL, AGPL or SSPL without an exception, but for a GPL library a reviewed decision names (licenses.REVIEWED). How a
licence is read from metadata, and judged, on distributions made here."""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

import pytest
from packaging.licenses import canonicalize_license_expression

from snapscribe_tools import licenses
from snapscribe_tools.licenses import Reviewed, Shipped, bundled_libraries, licence_of, verdict


@pytest.fixture(scope="module")
def shipped() -> list[Shipped]:
    return licenses.shipped()


def test_the_committed_file_is_current(shipped: list[Shipped]) -> None:
    assert licenses.OUTPUT.read_text(encoding="utf-8") == licenses.render(shipped), (
        "THIRD_PARTY_LICENSES.md is stale: .venv/bin/python -m snapscribe_tools.licenses writes it anew"
    )


def test_every_shipped_package_has_a_known_licence(shipped: list[Shipped]) -> None:
    unknown = {package.name: package.source for package in shipped if package.verdict == "unknown"}
    assert unknown == {}


def test_no_shipped_package_is_under_a_forbidden_licence(shipped: list[Shipped]) -> None:
    """A GPL library in the layer or the image is not ours to ship under Apache-2.0: the fix is another package or
    a build without it (pillow-heif's x265 gave way to pi-heif), or, for the image, a decision in REVIEWED saying
    why (tesserocr's JBIG-KIT). AGPL and SSPL never."""
    forbidden = {
        package.name: [library for library, licence in package.libraries if verdict(licence) == "forbidden"]
        for package in shipped
        if package.verdict == "forbidden"
    }
    assert forbidden == {}


def test_what_ships_is_the_layer_and_the_image_requirements(shipped: list[Shipped]) -> None:
    by_name = {package.name: package for package in shipped}
    assert licenses.requirement_files() == {
        "layer": ["layers/core/requirements.txt"],
        "image": ["layers/core/requirements.txt", "requirements/ocr.txt"],
    }
    assert by_name["pydantic"].where == ("layer", "image")
    assert by_name["pydantic"].version == metadata.version("pydantic")  # the pin, and installed here
    assert by_name["rapidocr"].where == ("image",)
    assert by_name["aws-xray-sdk"].where == ("layer", "image")  # through aws-lambda-powertools[tracer]
    assert "boto3" not in by_name  # the Lambda runtime's, not the layer's
    assert not {"moto", "pytest", "ruff"} & set(by_name)  # the developer environment's


def test_every_reviewed_decision_still_matches_what_ships(shipped: list[Shipped]) -> None:
    """A decision whose package no longer ships, or no longer bundles that library under that licence, is stale:
    it goes, rather than waiting to let in whatever comes under the name next."""
    reviewed = {(package.name, library, licence) for package in shipped for library, licence in package.reviewed}
    decisions = {(entry.package, entry.component, entry.licence) for entry in licenses.REVIEWED}
    assert decisions == reviewed
    assert ("tesserocr", "libjbig", "GPL-2.0-or-later") in decisions
    assert not any(entry.package == "pillow-heif" for entry in licenses.REVIEWED)  # pi-heif ships no x265
    by_name = {package.name: package for package in shipped}
    assert by_name["tesserocr"].verdict == "reviewed"
    assert "pillow-heif" not in by_name


def test_every_decision_is_a_gpl_library_of_the_image_with_its_reasons() -> None:
    for entry in licenses.REVIEWED:
        assert verdict(entry.licence) == "forbidden"  # an allowed one needs no decision
        assert not licenses.NEVER_REVIEWED.search(entry.licence)
        assert entry.licence == licenses.LIBRARIES[entry.component]
        assert entry.where == ("image",)
        assert entry.what
        assert entry.why


def _tesserocr(tmp_path: Path, *libraries: str) -> Shipped:
    wheel = _distribution(tmp_path, "tesserocr", ["License: MIT"], tuple(f"tesserocr.libs/{lib}" for lib in libraries))
    return Shipped("tesserocr", "2.13.0", ("image",), "MIT", "License field", bundled_libraries(wheel), ())


def test_a_reviewed_library_passes_and_an_unreviewed_gpl_one_beside_it_still_fails(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    reviewed = _tesserocr(tmp_path / "a", "libjbig-fd9ff386.so.2.1", "libtiff-28bd1086.so.5.3.0")
    assert (reviewed.verdict, reviewed.reviewed) == ("reviewed", (("libjbig", "GPL-2.0-or-later"),))
    also_x265 = _tesserocr(tmp_path / "b", "libjbig-fd9ff386.so.2.1", "libx265-4883ecb5.so.217")
    assert also_x265.verdict == "forbidden"
    assert also_x265.why == "bundles libx265 (GPL-2.0-or-later)"


def test_a_decision_holds_for_its_package_its_licence_and_where_it_ships_only() -> None:
    jbig = (("libjbig", "GPL-2.0-or-later"),)
    assert Shipped("tesserocr", "", ("image",), "MIT", "License field", jbig, ()).verdict == "reviewed"
    assert Shipped("other", "", ("image",), "MIT", "License field", jbig, ()).verdict == "forbidden"
    assert Shipped("tesserocr", "", ("layer", "image"), "MIT", "License field", jbig, ()).verdict == "forbidden"
    relicensed = (("libjbig", "GPL-3.0-or-later"),)
    assert Shipped("tesserocr", "", ("image",), "MIT", "License field", relicensed, ()).verdict == "forbidden"
    # The package's own licence is never reviewed in, only a library it bundles.
    assert Shipped("tesserocr", "", ("image",), "GPL-2.0-or-later", "License field", jbig, ()).verdict == "forbidden"


@pytest.mark.parametrize("licence", ["AGPL-3.0-only", "SSPL-1.0", "MIT AND AGPL-3.0-or-later"])
def test_agpl_and_sspl_cannot_be_reviewed_in(licence: str, monkeypatch: pytest.MonkeyPatch) -> None:
    decision = Reviewed("tesserocr", "libnetwork", licence, ("image",), "a library", "a reason")
    monkeypatch.setattr(licenses, "REVIEWED", (*licenses.REVIEWED, decision))
    bundled = (("libnetwork", licence),)
    assert Shipped("tesserocr", "", ("image",), "MIT", "License field", bundled, ()).verdict == "forbidden"


def test_the_tables_are_spdx_expressions() -> None:
    expressions = [*licenses.LIBRARIES.values(), *(licence for licence, _ in licenses.CORRECTIONS.values())]
    expressions += [entry.licence for entry in licenses.REVIEWED]
    assert [str(canonicalize_license_expression(e)) for e in expressions] == expressions


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("MIT", "allowed"),
        ("(Apache-2.0 OR BSD-3-Clause) AND BSD-3-Clause", "allowed"),
        ("FTL OR GPL-2.0-or-later", "allowed"),  # dual: the permissive side is taken
        ("GPL-3.0-or-later WITH GCC-exception-3.1", "allowed"),
        ("LGPL-3.0-or-later", "allowed"),
        ("MIT AND GPL-2.0-or-later", "forbidden"),
        ("AGPL-3.0-only", "forbidden"),
        ("SSPL-1.0", "forbidden"),
        ("GPL-2.0-only WITH LicenseRef-some-exception", "forbidden"),
        ("LicenseRef-Proprietary", "unknown"),
        ("MIT AND LicenseRef-Proprietary", "unknown"),
        ("", "unknown"),
    ],
)
def test_a_licence_is_judged_by_its_expression(expression: str, expected: str) -> None:
    assert verdict(expression) == expected


def _distribution(folder: Path, name: str, headers: list[str], files: tuple[str, ...] = ()) -> metadata.Distribution:
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("\n".join(["Metadata-Version: 2.4", f"Name: {name}", "Version: 1.0", *headers]))
    (info / "RECORD").write_text("".join(f"{file},,\n" for file in files))
    return metadata.PathDistribution(info)


def test_the_licence_is_read_from_expression_field_or_one_classifier(tmp_path: Path) -> None:
    expression = _distribution(tmp_path, "a", ["License-Expression: mit or apache-2.0", "License: whatever"])
    assert licence_of(expression) == ("MIT OR Apache-2.0", "License-Expression")
    aliased = _distribution(tmp_path, "b", ["License: Apache License, Version 2.0"])
    assert licence_of(aliased) == ("Apache-2.0", "License field")
    classified = _distribution(tmp_path, "c", ["Classifier: License :: OSI Approved :: MIT License"])
    assert licence_of(classified) == ("MIT", "classifier")


def test_vague_or_contradictory_metadata_is_unknown(tmp_path: Path) -> None:
    vague = _distribution(tmp_path, "a", ["License: BSD", "Classifier: License :: OSI Approved :: BSD License"])
    contradictory = _distribution(
        tmp_path, "b", ["License: MIT", "Classifier: License :: OSI Approved :: Apache Software License"]
    )
    whole_text = _distribution(tmp_path, "c", ["License: Permission is hereby granted, free of charge, to any"])
    for distribution in (vague, contradictory, whole_text):
        licence, why = licence_of(distribution)
        assert licence == ""
        assert why


def test_a_bundled_library_counts_and_an_unlisted_one_is_unknown(tmp_path: Path) -> None:
    wheel = _distribution(
        tmp_path, "heifish", ["License: BSD-3-Clause"], ("heifish.libs/libx265-4883ecb5.so.217", "heifish/x.py")
    )
    assert bundled_libraries(wheel) == (("libx265", "GPL-2.0-or-later"),)
    judged = Shipped("heifish", "1.0", ("layer",), "BSD-3-Clause", "License field", bundled_libraries(wheel), ())
    assert judged.verdict == "forbidden"
    odd = _distribution(tmp_path, "odd", ["License: MIT"], ("odd.libs/libsomething-0123abcd.so.1.2",))
    assert bundled_libraries(odd) == (("libsomething", ""),)
    assert Shipped("odd", "", ("image",), "MIT", "License field", bundled_libraries(odd), ()).verdict == "unknown"
