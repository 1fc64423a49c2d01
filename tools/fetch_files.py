#!/usr/bin/env python3
"""Install the files a manifest pins (Tesseract's models, the test suite's fonts) into DEST, with Python alone.

    python3 tools/fetch_files.py MANIFEST DEST [--mirror URL]...

Each file is taken from a Debian package (a .deb is an `ar` archive holding data.tar.xz; both are read here, so
neither apt nor dpkg is needed: macOS and Fedora have neither). The manifest pins the package's sha256 and each
file's; each package's copyright notice goes into DEST/licenses. The mirrors are tried in turn; a download is
trusted only for its sha256, so any mirror will do. Which mirrors: --mirror, else SNAPSCRIBE_DEBIAN_MIRRORS
(space-separated archive roots), else the manifest's mirror lines, else the Debian archives this machine's apt
sources name (read, not run: a Debian machine, the image's python base among them, needs no setting; Ubuntu's
archive holds its own builds, in another pool, so an Ubuntu machine names a Debian mirror as macOS and Fedora do).
The committed manifests name no host: a mirror is the machine's or its user's choice.

Atomic: everything is put together in a new folder beside DEST and renamed into place when complete and
verified, so a failed or interrupted run leaves DEST as it was and no partial folder behind. Idempotent: a DEST
already holding every pinned file with its sha256 (and the licences) is left alone.

Standard library only, Python 3.9+: it runs with the system's python3 before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import ssl
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT_SECONDS = 60
ABANDONED_AFTER_SECONDS = 3600  # far longer than a run takes
APT_ROOT = Path(os.environ.get("SNAPSCRIBE_APT_ROOT", "/etc/apt"))  # another root: tests
DECOMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".xz": lzma.decompress,
    ".gz": gzip.decompress,
    ".bz2": bz2.decompress,
    "": bytes,
}


class FetchError(Exception):
    """A download, a checksum or the manifest is wrong: nothing was installed."""


@dataclass
class PinnedFile:
    path: str  # inside the package's data archive, without the leading "./"
    sha256: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Package:
    name: str
    version: str
    pool_path: str  # the .deb's path below a mirror's root
    sha256: str
    files: list[PinnedFile] = field(default_factory=list)

    @property
    def licence_path(self) -> str:
        return f"usr/share/doc/{self.name}/copyright"


@dataclass
class Manifest:
    mirrors: list[str]
    packages: list[Package]


def _sha256(text: str, where: str) -> str:
    prefix, _, digest = text.partition("=")
    if prefix != "sha256" or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise FetchError(f"{where}: expected sha256=<64 lowercase hex digits>, got {text!r}")
    return digest


def parse_manifest(path: Path) -> Manifest:
    """Lines (a '#' starts a comment):
    mirror URL                                  a Debian archive's root; tried in the order given (optional)
    package NAME VERSION POOL_PATH sha256=HEX   a .deb, then the files taken from it:
      file PATH_IN_PACKAGE sha256=HEX           installed as DEST/<its base name>"""
    mirrors: list[str] = []
    packages: list[Package] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        words = raw.split("#", 1)[0].split()
        where = f"{path.name} line {number}"
        if not words:
            continue
        if words[0] == "mirror" and len(words) == 2:
            mirrors.append(words[1].rstrip("/"))
        elif words[0] == "package" and len(words) == 5:
            packages.append(Package(words[1], words[2], words[3].lstrip("/"), _sha256(words[4], where)))
        elif words[0] == "file" and len(words) == 3:
            if not packages:
                raise FetchError(f"{where}: a file line before any package line")
            packages[-1].files.append(PinnedFile(words[1].lstrip("./"), _sha256(words[2], where)))
        else:
            raise FetchError(f"{where}: not a mirror, package or file line: {raw.strip()!r}")
    names = [pinned.name for package in packages for pinned in package.files]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise FetchError(f"{path.name}: more than one file would be installed as {', '.join(duplicates)}")
    if not names or any(not package.files for package in packages):
        raise FetchError(f"{path.name}: needs at least one file under every package")
    return Manifest(mirrors, packages)


def download(url: str, expected_sha256: str) -> bytes:
    """The bytes at url, only if their sha256 is the pinned one."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (https mirrors)
            data: bytes = response.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, ssl.SSLCertVerificationError):  # python.org's macOS Python comes without them
            reason = f"{reason} (if this Python trusts no CA yet: on macOS, run its 'Install Certificates.command')"
        raise FetchError(f"{url}: {reason}") from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise FetchError(f"{url}: sha256 {actual}, the manifest pins {expected_sha256}")
    return data


def deb_data_archive(deb: bytes, name: str) -> tarfile.TarFile:
    """The data.tar.* member of a .deb: an `ar` archive of 60-byte headers, each member padded to an even size."""
    if not deb.startswith(b"!<arch>\n"):
        raise FetchError(f"{name}: not a Debian package (no ar header)")
    offset = 8
    while offset + 60 <= len(deb):
        header = deb[offset : offset + 60]
        member = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip() or 0)
        body = deb[offset + 60 : offset + 60 + size]
        if member.startswith("data.tar"):
            decompress = DECOMPRESSORS.get(member.removeprefix("data.tar"))
            if decompress is None:
                raise FetchError(f"{name}: {member} is compressed in a way Python's standard library cannot read")
            try:
                # Decompressed whole, once: a tarfile over the compressed stream decompresses it again from the
                # start for every file it seeks back to (three times the work for a package's two files).
                return tarfile.open(fileobj=io.BytesIO(decompress(body)), mode="r:")
            except (tarfile.TarError, lzma.LZMAError, OSError, EOFError) as error:
                raise FetchError(f"{name}: its {member} cannot be read: {error}") from error
        offset += 60 + size + (size % 2)
    raise FetchError(f"{name}: no data.tar member")


def _member_bytes(archive: tarfile.TarFile, path: str, package: str) -> bytes:
    for candidate in (f"./{path}", path):
        try:
            extracted = archive.extractfile(candidate)  # follows a link to its target inside the archive
        except KeyError:
            continue
        if extracted is not None:
            return extracted.read()
    raise FetchError(f"{package}: has no file {path}")


def fetch_package(package: Package, mirrors: list[str]) -> bytes:
    failures = []
    for mirror in mirrors:
        try:
            return download(f"{mirror}/{package.pool_path}", package.sha256)
        except FetchError as error:
            failures.append(str(error))
    raise FetchError(f"{package.name} {package.version}: no mirror served it intact:\n  " + "\n  ".join(failures))


def is_installed(manifest: Manifest, dest: Path) -> bool:
    for package in manifest.packages:
        if not (dest / "licenses" / f"{package.name}.copyright").is_file():
            return False
        for pinned in package.files:
            file = dest / pinned.name
            if not file.is_file() or hashlib.sha256(file.read_bytes()).hexdigest() != pinned.sha256:
                return False
    return True


def _assemble(manifest: Manifest, mirrors: list[str], folder: Path) -> int:
    """Every pinned file and licence into folder, each checked against its pin. Returns the bytes fetched."""
    (folder / "licenses").mkdir()
    fetched = 0
    for package in manifest.packages:
        deb = fetch_package(package, mirrors)
        fetched += len(deb)
        with deb_data_archive(deb, package.name) as archive:
            for pinned in package.files:
                data = _member_bytes(archive, pinned.path, package.name)
                actual = hashlib.sha256(data).hexdigest()
                if actual != pinned.sha256:
                    raise FetchError(f"{package.name}: {pinned.path} has sha256 {actual}, pinned {pinned.sha256}")
                (folder / pinned.name).write_bytes(data)
            licence = _member_bytes(archive, package.licence_path, package.name)
            (folder / "licenses" / f"{package.name}.copyright").write_bytes(licence)
    return fetched


def remove_abandoned_folders(dest: Path) -> None:
    """The folders a killed run (SIGKILL, a power cut: nothing could clean up) left beside dest. Only old ones:
    a fresh one may be another run's at work (two makes at once)."""
    for folder in dest.parent.glob(f".{dest.name}.*-*"):
        ours = folder.name.startswith((f".{dest.name}.new-", f".{dest.name}.old-")) and folder.is_dir()
        if ours and time.time() - folder.stat().st_mtime > ABANDONED_AFTER_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)


def apt_source_mirrors(apt_root: Path = APT_ROOT) -> list[str]:
    """The http(s) archive roots of the Debian archives apt's sources name, in their order: one-line
    `deb [options] URI SUITE ...` entries (sources.list, *.list) and deb822 `Types: deb` / `URIs:` stanzas
    (*.sources). Security and update archives are left out: the pinned packages are in the main archive."""
    files = [apt_root / "sources.list"]
    for pattern in ("*.list", "*.sources"):
        files += sorted((apt_root / "sources.list.d").glob(pattern))
    found: list[str] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if file.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = dict(_deb822_fields(stanza))
                if "deb" in fields.get("types", "").split():
                    found += fields.get("uris", "").split()
        else:
            for line in text.splitlines():
                words = line.split("#", 1)[0].split()
                if words[:1] == ["deb"]:
                    uris = [word for word in words[1:] if "://" in word]
                    found += uris[:1]
    roots = [uri.rstrip("/") for uri in found if uri.startswith(("http://", "https://"))]
    roots = [root for root in roots if "security" not in root]
    return list(dict.fromkeys(roots))


def _deb822_fields(stanza: str) -> list[tuple[str, str]]:
    fields = []
    for line in stanza.splitlines():
        if line and not line[0].isspace() and ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            fields.append((key.strip().lower(), value.strip()))
    return fields


def choose_mirrors(manifest: Manifest, given: list[str] | None, apt_root: Path = APT_ROOT) -> list[str]:
    from_environment = os.environ.get("SNAPSCRIBE_DEBIAN_MIRRORS", "").split()
    mirrors = given or from_environment or manifest.mirrors or apt_source_mirrors(apt_root)
    if not mirrors:
        raise FetchError(
            "no Debian mirror known: this machine has no apt sources; set SNAPSCRIBE_DEBIAN_MIRRORS to one or more"
            " Debian archive roots (any mirror: every package is checked against its pinned sha256)"
        )
    return [mirror.rstrip("/") for mirror in mirrors]


def install(manifest: Manifest, dest: Path, mirrors: list[str] | None = None) -> str:
    """Puts the manifest's files in dest (see the module's docstring); returns what was done, in a line."""
    count = sum(len(package.files) for package in manifest.packages)
    if is_installed(manifest, dest):
        return f"{count} files already in {dest}"
    mirrors = choose_mirrors(manifest, mirrors)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_folders(dest)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.new-", dir=dest.parent))
    try:
        fetched = _assemble(manifest, mirrors, staging)
        staging.chmod(0o755)  # mkdtemp's folder is private; the files are for every user (the image's too)
        if dest.exists():
            # Two renames on one filesystem: the old folder moves aside, the new one takes its name.
            aside = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.rename(dest, aside / dest.name)
            try:
                os.rename(staging, dest)
            except OSError:
                os.rename(aside / dest.name, dest)
                raise
            finally:
                shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(staging, dest)
    except BaseException:  # an interrupted run (Ctrl-C too) leaves no partial folder
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return f"{count} files in {dest} ({len(manifest.packages)} packages, {fetched / 1e6:.1f} MB fetched)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument(
        "--mirror", action="append", help="a Debian archive's root (tried in the order given), instead of the machine's"
    )
    arguments = parser.parse_args(argv)
    try:
        manifest = parse_manifest(arguments.manifest)
        print(f"{arguments.manifest.name}: {install(manifest, arguments.dest.absolute(), arguments.mirror)}")
    except (FetchError, OSError) as error:
        print(f"fetch_files: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
