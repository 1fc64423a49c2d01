"""Third-party licences of what a deployment ships, written to THIRD_PARTY_LICENSES.md.

    python -m snapscribe_tools.licenses            # write the file
    python -m snapscribe_tools.licenses --check    # exit 1 if it is stale, or a licence is unknown or forbidden

What ships: the core layer (layers/core/requirements.txt, every zip function) and the OCR container image
(functions/Dockerfile: the requirement files its pip install names, and Tesseract's models). The packages are those
requirements and everything they require on Lambda (Python 3.13, Linux, arm64), read from the distributions
installed in this environment (the same pins): each one's License-Expression, else its License field, else its
classifiers; the native libraries its wheel bundles (auditwheel's <package>.libs/) each from the table below. What
the metadata gets wrong or leaves vague is corrected in CORRECTIONS, saying why. A licence is allowed, forbidden
(GPL, AGPL or SSPL without an exception) or unknown; the check fails on the last two, and the file says which. A
GPL library a package bundles passes only when REVIEWED names it, with the decision and why (never AGPL or SSPL).
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import importlib.util
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from snapscribe_tools.container_image import base_image, image_instructions
from snapscribe_tools.template import PROJECT_ROOT

OUTPUT = PROJECT_ROOT / "THIRD_PARTY_LICENSES.md"
LAYER_REQUIREMENTS = "layers/core/requirements.txt"
TESSDATA_MANIFEST = PROJECT_ROOT / "requirements" / "tessdata.txt"
# Lambda's python3.13 on arm64: the environment requirement markers are evaluated for.
LAMBDA = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "implementation_version": "3.13.0",
    "platform_python_implementation": "CPython",
    "platform_machine": "aarch64",
    "platform_system": "Linux",
    "platform_release": "",
    "platform_version": "",
    "sys_platform": "linux",
    "os_name": "posix",
}
ALLOWED = {
    "0BSD", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Open-MPI", "BSL-1.0", "CC0-1.0", "FTL",
    "HPND", "IJG", "ISC", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "Libpng",
    "libpng-2.0", "libtiff", "MIT", "MIT-0", "MIT-CMU", "MIT-Modern-Variant", "MPL-2.0", "OpenSSL", "PSF-2.0",
    "Python-2.0", "Unicode-3.0", "Unlicense", "X11", "Zlib",
}  # fmt: skip
EXCEPTIONS = {"GCC-exception-3.1", "Classpath-exception-2.0", "LLVM-exception"}  # GPL ... WITH one is allowed
FORBIDDEN = re.compile(r"^(A?GPL|SSPL)-")
# Licences no review can let in: their network clause reaches a service that only runs the code.
NEVER_REVIEWED = re.compile(r"\b(AGPL|SSPL)-")
# Each library a wheel bundles, by its name without auditwheel's hash and version (from the projects' own
# licence statements; pillow-heif's LICENSES_bundled.txt, numpy's LICENSE.txt, opencv's LICENSE-3RD-PARTY.txt).
LIBRARIES = {
    "libaom": "BSD-2-Clause",
    "libavcodec": "LGPL-2.1-or-later",  # FFmpeg, built without its GPL parts (opencv's LICENSE-3RD-PARTY.txt)
    "libavformat": "LGPL-2.1-or-later",
    "libavutil": "LGPL-2.1-or-later",
    "libswresample": "LGPL-2.1-or-later",
    "libswscale": "LGPL-2.1-or-later",
    "libavif": "BSD-2-Clause",
    "libbrotlicommon": "MIT",
    "libbrotlidec": "MIT",
    "libcrypto": "OpenSSL",
    "libssl": "OpenSSL",
    "libde265": "LGPL-3.0-or-later",
    "libdrm": "MIT",
    "libfreetype": "FTL OR GPL-2.0-or-later",
    "libgeos": "LGPL-2.1-or-later",
    "libgeos_c": "LGPL-2.1-or-later",
    "libgfortran": "GPL-3.0-or-later WITH GCC-exception-3.1",
    "libquadmath": "LGPL-2.1-or-later",
    "libharfbuzz": "MIT-Modern-Variant",
    "libheif": "LGPL-3.0-or-later",
    "libjbig": "GPL-2.0-or-later",  # JBIG-KIT, pulled in by the libtiff tesserocr's wheel bundles
    "libjpeg": "IJG AND BSD-3-Clause AND Zlib",  # libjpeg-turbo
    "liblcms2": "MIT",
    "libleptonica": "BSD-2-Clause",
    "liblzma": "0BSD",
    "libopenblasp-r0": "BSD-3-Clause",
    "libscipy_openblas64_": "BSD-3-Clause",
    "libopenjp2": "BSD-2-Clause",
    "libpng16": "libpng-2.0",
    "libsharpyuv": "BSD-3-Clause",
    "libtesseract": "Apache-2.0",
    "libtiff": "libtiff",
    "libvpx": "BSD-3-Clause",
    "libwebp": "BSD-3-Clause",
    "libwebpdemux": "BSD-3-Clause",
    "libwebpmux": "BSD-3-Clause",
    "libx265": "GPL-2.0-or-later",  # x265: pillow-heif's binary wheels are GPLv2 for it (LICENSES_bundled.txt)
    "libXau": "MIT",
    "libxcb": "X11",
    "libzstd": "BSD-3-Clause OR GPL-2.0-only",
}
# Where a package's metadata is wrong, vague or not an expression: the licence its licence files state.
CORRECTIONS = {
    "langdetect": ("Apache-2.0", "its License field says MIT; its classifier and LICENSE file say Apache-2.0"),
    "omegaconf": ("BSD-3-Clause", 'only a "BSD License" classifier; its LICENSE is the 3-clause text'),
    "pyasn1-modules": ("BSD-2-Clause", 'License "BSD"; its LICENSE.txt is the 2-clause text'),
    "python-dateutil": ("Apache-2.0 AND BSD-3-Clause", 'License "Dual License"; its LICENSE: both apply'),
    "pypdfium2": (
        "(Apache-2.0 OR BSD-3-Clause) AND BSD-3-Clause",
        "License names two licences and 'dependency licenses': PDFium is BSD-3-Clause and its dependencies'"
        " licences are in its BUILD_LICENSES/ (permissive; libgcc's GPL with the runtime exception in musl builds)",
    ),
}
CLASSIFIERS = {
    "MIT License": "MIT",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "Apache Software License": "Apache-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "ISC License (ISCL)": "ISC",
}
FIELD_ALIASES = {
    "apache 2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "mit license": "MIT",
    "3-clause bsd license": "BSD-3-Clause",
}


@dataclass(frozen=True)
class Reviewed:
    """A GPL library a package bundles, shipped by decision: where it may ship, and why that is acceptable."""

    package: str
    component: str  # the library as bundled_libraries names it
    licence: str  # as LIBRARIES states it: a change of licence is a new decision
    where: tuple[str, ...]  # where the decision holds ("image"); shipped anywhere else, it is forbidden again
    what: str
    why: str


# The lead's decisions. An entry no shipped package matches any more fails the suite (a stale decision).
REVIEWED = (
    Reviewed(
        "tesserocr",
        "libjbig",
        "GPL-2.0-or-later",
        ("image",),
        "JBIG-KIT 2.1 (AlmaLinux 8's jbigkit-libs), which the wheel's libtiff links: tesserocr -> libleptonica ->"
        " libtiff -> libjbig. The service hands Tesseract images Pillow has decoded, never a JBIG file",
        "in the OCR image only, which the operator builds in their own account from PyPI's wheel; GPL-2.0 has no"
        " network-use clause, so running it behind the API is not distributing it",
    ),
)
# Models inside a wheel, under their own licence file: (what they are, their licence, the file that says so).
MODELS = {"rapidocr": ("its OCR models (PP-OCR: Baidu, PaddleOCR)", "Apache-2.0", "MODEL_LICENSES.md")}
LICENCE_FILE = re.compile(r"(licen[cs]e|copying|notice)", re.IGNORECASE)


@dataclass(frozen=True)
class Shipped:
    name: str
    version: str  # the pin, or "" for a dependency nothing pins (its version is the resolver's)
    where: tuple[str, ...]  # "layer", "image"
    licence: str  # an SPDX expression, or "" when it cannot be told
    source: str  # where the licence was read
    libraries: tuple[tuple[str, str], ...]  # bundled native libraries and their licences
    files: tuple[str, ...]  # the licence files in its .dist-info or package

    @property
    def reviewed(self) -> tuple[tuple[str, str], ...]:
        """The bundled libraries a REVIEWED decision lets ship here."""
        return tuple(library for library in self.libraries if is_reviewed(self.name, self.where, *library))

    @property
    def why(self) -> str:
        """What makes the verdict what it is, when it is not "allowed"."""
        unreviewed = [library for library in self.libraries if library not in self.reviewed]
        bad = [f"{library} ({lib or 'unknown'})" for library, lib in unreviewed if verdict(lib) != "allowed"]
        if not bad and self.reviewed and self.licence:
            named = ", ".join(f"{library} ({licence})" for library, licence in self.reviewed)
            return f"bundles {named}, reviewed (see Reviewed components)"
        return f"bundles {', '.join(bad)}" if bad and self.licence else self.source

    @property
    def verdict(self) -> str:
        """allowed, forbidden or unknown; "reviewed" when it is allowed only by a REVIEWED decision."""
        unreviewed = [licence for library, licence in self.libraries if (library, licence) not in self.reviewed]
        expression = " AND ".join(f"({part})" for part in [self.licence, *unreviewed])
        judged = verdict(expression) if self.licence else "unknown"
        return "reviewed" if judged == "allowed" and self.reviewed else judged


def is_reviewed(package: str, where: tuple[str, ...], library: str, licence: str) -> bool:
    """A REVIEWED decision covers this library of this package, with this licence, everywhere it ships; AGPL and
    SSPL never, whatever the table says."""
    if verdict(licence) != "forbidden" or NEVER_REVIEWED.search(licence):
        return False
    return any(
        (entry.package, entry.component, entry.licence) == (package, library, licence)
        and set(where) <= set(entry.where)
        for entry in REVIEWED
    )


def verdict(expression: str) -> str:
    """allowed, forbidden or unknown, for an SPDX expression: OR takes the best of its sides, AND the worst."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    if not tokens:
        return "unknown"
    rank = {"forbidden": 0, "unknown": 1, "allowed": 2}

    def parse_or(at: int) -> tuple[str, int]:
        best, at = parse_and(at)
        while at < len(tokens) and tokens[at] == "OR":
            other, at = parse_and(at + 1)
            best = max(best, other, key=rank.__getitem__)
        return best, at

    def parse_and(at: int) -> tuple[str, int]:
        worst, at = parse_one(at)
        while at < len(tokens) and tokens[at] == "AND":
            other, at = parse_one(at + 1)
            worst = min(worst, other, key=rank.__getitem__)
        return worst, at

    def parse_one(at: int) -> tuple[str, int]:
        if tokens[at] == "(":
            inner, at = parse_or(at + 1)
            return inner, at + 1  # past ")"
        licence, at = tokens[at].removesuffix("+"), at + 1
        if at < len(tokens) and tokens[at] == "WITH":
            exception, at = tokens[at + 1], at + 2
            if FORBIDDEN.match(licence) and exception in EXCEPTIONS:
                return "allowed", at
        if licence in ALLOWED:
            return "allowed", at
        return ("forbidden" if FORBIDDEN.match(licence) else "unknown"), at

    return parse_or(0)[0]


def _spdx(text: str) -> str | None:
    try:
        return str(canonicalize_license_expression(text))
    except InvalidLicenseExpression:
        return None


def _field(distribution: metadata.Distribution, name: str) -> str:
    return str((distribution.metadata.get_all(name) or [""])[0])


def licence_of(distribution: metadata.Distribution) -> tuple[str, str]:
    """(SPDX expression, where it was read), or ("", why not)."""
    name = canonicalize_name(distribution.metadata["Name"])
    if name in CORRECTIONS:
        return CORRECTIONS[name][0], f"corrected: {CORRECTIONS[name][1]}"
    expression = _field(distribution, "License-Expression")
    if expression and _spdx(expression):
        return str(_spdx(expression)), "License-Expression"
    listed = distribution.metadata.get_all("Classifier") or []
    classifiers = [c.split(" :: ")[-1] for c in listed if c.startswith("License :: ")]
    classifiers = [c for c in classifiers if c != "OSI Approved"]
    from_classifiers = {CLASSIFIERS[c] for c in classifiers if c in CLASSIFIERS}
    field = _field(distribution, "License").strip()
    from_field = _spdx(field) or FIELD_ALIASES.get(field.lower()) if "\n" not in field and len(field) < 100 else None
    if from_field:
        named = set(re.findall(r"[A-Za-z0-9.+-]+", from_field)) - {"AND", "OR", "WITH"}
        if from_classifiers and not named & from_classifiers:
            return "", f"its License field ({field}) and classifiers ({', '.join(classifiers)}) disagree"
        return from_field, "License field"
    if len(from_classifiers) == 1 and len(classifiers) == 1:
        return from_classifiers.pop(), "classifier"
    return "", f"no licence its metadata states exactly (License {field[:40]!r}, classifiers {classifiers})"


def bundled_libraries(distribution: metadata.Distribution) -> tuple[tuple[str, str], ...]:
    """The native libraries auditwheel vendored into the wheel (<package>.libs/), each with its licence ("" when
    the table does not know it)."""
    found = set()
    for file in distribution.files or []:
        parts = Path(str(file)).parts
        if len(parts) == 2 and parts[0].endswith(".libs") and ".so" in parts[1]:
            found.add(re.sub(r"-[0-9a-f]{8}\b.*", "", parts[1].split(".so", 1)[0]))
    return tuple(sorted((library, LIBRARIES.get(library, "")) for library in found))


def requirement_files() -> dict[str, list[str]]:
    """Where each of the two ships, its requirement files: the layer's, and those the image's pip install names."""
    image: list[str] = []
    for instruction, argument in image_instructions():
        if instruction == "RUN" and "pip install" in argument:
            words = shlex.split(argument.partition("&&")[0])
            image += [words[at + 1].replace("${LAMBDA_TASK_ROOT}/", "") for at, w in enumerate(words) if w == "-r"]
    return {"layer": [LAYER_REQUIREMENTS], "image": image}


def _requirements(path: str) -> list[Requirement]:
    lines = (PROJECT_ROOT / path).read_text(encoding="utf-8").splitlines()
    return [Requirement(line.split("#", 1)[0].strip()) for line in lines if line.split("#", 1)[0].strip()]


def resolve(roots: list[Requirement]) -> dict[str, set[str]]:
    """Every distribution the roots need on Lambda, by canonical name, with the extras asked of it."""
    needed: dict[str, set[str]] = {}
    todo = [(root, set(root.extras)) for root in roots]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in needed and extras <= needed[name]:
            continue
        needed[name] = needed.get(name, set()) | extras
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # reported as not installed
        for line in distribution.requires or []:
            dependency = Requirement(line)
            marker = dependency.marker
            if marker is None or any(marker.evaluate({**LAMBDA, "extra": e}) for e in needed[name] or {""}):
                todo.append((dependency, set(dependency.extras)))
    return needed


def shipped() -> list[Shipped]:
    where: dict[str, list[str]] = {}
    pins: dict[str, str] = {}
    for place, files in requirement_files().items():
        roots = [requirement for path in files for requirement in _requirements(path)]
        for requirement in roots:
            pinned = [spec.version for spec in requirement.specifier if spec.operator == "=="]
            if pinned:
                pins[canonicalize_name(requirement.name)] = pinned[0]
        for name in resolve(roots):
            where.setdefault(name, []).append(place)
    found = []
    for name in sorted(where):
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            found.append(Shipped(name, pins.get(name, ""), tuple(where[name]), "", "not installed here", (), ()))
            continue
        licence, source = licence_of(distribution)
        files = sorted(str(f) for f in distribution.files or [] if LICENCE_FILE.search(str(f)) and f.suffix != ".py")
        libraries = bundled_libraries(distribution)
        found.append(Shipped(name, pins.get(name, ""), tuple(where[name]), licence, source, libraries, tuple(files)))
    return found


def _tessdata() -> list[tuple[str, str, str]]:
    """Tesseract's models the image carries, from their pins: (file, Debian package, its version)."""
    spec = importlib.util.spec_from_file_location("fetch_files", PROJECT_ROOT / "tools" / "fetch_files.py")
    assert spec is not None
    assert spec.loader is not None
    fetch_files: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fetch_files", fetch_files)  # its dataclasses look their module up
    spec.loader.exec_module(fetch_files)
    manifest = fetch_files.parse_manifest(TESSDATA_MANIFEST)
    return [(file.name, package.name, package.version) for package in manifest.packages for file in package.files]


def _files_cell(files: tuple[str, ...]) -> str:
    names = [file.split(".dist-info/", 1)[-1] for file in files]
    shown = ", ".join(f"`{name}`" for name in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "") if names else "none in the wheel"


def render(packages: list[Shipped]) -> str:
    problems = [package for package in packages if package.verdict not in ("allowed", "reviewed")]
    reviewed = [package for package in packages if package.verdict == "reviewed"]
    lines = [
        "# Third-party licences",
        "",
        "What a deployment ships besides snapscribe's own code (Apache-2.0, [LICENSE](LICENSE)). Written by",
        "`python -m snapscribe_tools.licenses` from the installed packages' metadata; `--check` (run by the",
        "suite) fails when this file is stale or a licence is unknown or forbidden (a GPL library passes only",
        "when it is a reviewed component, below). Do not edit it by hand.",
        "",
        f"- **layer**: the core layer ({LAYER_REQUIREMENTS}), in every zip function.",
        f"- **image**: the OCR container image (functions/Dockerfile): {', '.join(requirement_files()['image'])},",
        f"  and Tesseract's models. Its base image, `{base_image()}` (Amazon Linux, Python and",
        "  the runtime's boto3), comes under AWS's own terms.",
        "",
        "Each package's licence files ship with it (its `.dist-info/`, in the layer's `python/` and the image's task",
        "root). Bundled native libraries were read from this machine's wheels (Linux); a version column is the pin,",
        "blank for a dependency nothing pins.",
        "",
        "## Verdict",
        "",
    ]
    if not problems:
        allowed = len(packages) - len(reviewed)
        lines += [f"All {len(packages)} packages' licences are known: {allowed} allowed, {len(reviewed)} reviewed.", ""]
    for package in [*problems, *reviewed]:
        lines.append(f"- **{package.verdict}**: {package.name} ({package.licence or 'no licence'}): {package.why}.")
    lines += _reviewed_section(reviewed)
    lines += ["", "## Python packages", "", "| Package | Version | Ships in | Licence | Read from | Licence files |"]
    lines.append("|---|---|---|---|---|---|")
    for package in packages:
        cells = [package.name, package.version, ", ".join(package.where), package.licence or "**unknown**"]
        cells += [package.source, _files_cell(package.files)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Native libraries bundled in the wheels", "", "| Package | Library | Licence |", "|---|---|---|"]
    for package in packages:
        lines += [
            f"| {package.name} | {library} | {licence or '**unknown**'} |" for library, licence in package.libraries
        ]
    lines += ["", "## Files that are not Python packages (image)", "", "| File | From | Version | Licence |"]
    lines.append("|---|---|---|---|")
    for package in packages:
        if package.name in MODELS and any(file.endswith(MODELS[package.name][2]) for file in package.files):
            what, licence, said = MODELS[package.name]
            lines.append(f"| {what}, in the wheel | {package.name} | {package.version} | {licence} ({said}) |")
    for file, package_name, version in _tessdata():
        lines.append(f"| tessdata/{file} | Debian {package_name} (tessdata_fast) | {version} | Apache-2.0 |")
    lines.append("")
    return "\n".join(lines)


def _reviewed_section(reviewed: list[Shipped]) -> list[str]:
    lines = [
        "",
        "## Reviewed components",
        "",
        "GPL libraries that ship by decision (tools/snapscribe_tools/licenses.py's REVIEWED; never AGPL or SSPL).",
        "This project distributes source only: the OCR image is built by the operator, in their own account, from",
        "PyPI's wheels. GPL-2.0 has no network-use clause, so a service that runs the image does not distribute it.",
        "**Whoever redistributes the built image** (pushes it where others pull it, or hands it on) distributes",
        "these libraries and must honour GPL-2.0 for them: ship or offer their corresponding source.",
        "",
        "| Package | Bundled component | Licence | Ships in | What it is | Why acceptable |",
        "|---|---|---|---|---|---|",
    ]
    for package in reviewed:
        for library, licence in package.reviewed:
            [entry] = [e for e in REVIEWED if (e.package, e.component) == (package.name, library)]
            cells = [package.name, library, licence, ", ".join(package.where), entry.what, entry.why]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snapscribe licenses", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help=f"compare with {OUTPUT.name}; write nothing")
    args = parser.parse_args(argv)
    packages = shipped()
    text = render(packages)
    if not args.check:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(PROJECT_ROOT)}: {len(packages)} packages")
    failed = False
    if args.check and (not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text):
        print(f"{OUTPUT.name} is stale: python -m snapscribe_tools.licenses writes it anew", file=sys.stderr)
        failed = True
    for package in packages:
        if package.verdict not in ("allowed", "reviewed"):
            print(
                f"{package.verdict}: {package.name} ({package.licence or 'no licence'}): {package.why}", file=sys.stderr
            )
            failed = failed or args.check
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
