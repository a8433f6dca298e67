"""Chart archives unpacked safely: a gzipped tar of `NAME/...`, regular files and directories
only, every path inside its directory, sizes bounded.

Refused, naming the archive and the entry: an absolute path, a path with `..`, entries outside
one top directory, a symlink, a hard link, a device or any other special entry, an entry that
appears twice, more files or more bytes than the bounds allow (counted on the decompressed
stream, so a small archive that expands without end is stopped too). Nothing is written outside
the destination, and nothing is executed: a chart is only ever read as templates by Helm.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fleetsync.shared.charts.http import MiB
from fleetsync.shared.errors import PermanentError


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    max_bytes: int = 64 * MiB
    """Decompressed bytes of the whole archive (headers included)."""
    max_files: int = 10_000


class ArchiveError(PermanentError):
    """A chart archive that is refused; the message names it and the entry."""


DEFAULT_LIMITS = ArchiveLimits()


def extract_chart(
    archive: Path,
    destination: Path,
    *,
    name: str,
    shown: str,
    limits: ArchiveLimits = DEFAULT_LIMITS,
) -> Path:
    """Unpack the chart archive into `destination/name` (its top directory renamed to `name`);
    `shown` names the archive in errors (a URL, or the chart's name and version)."""
    target = destination / name
    target.mkdir(parents=True, exist_ok=False)
    top: str | None = None
    seen: set[str] = set()
    files = 0
    try:
        with archive.open("rb") as raw:
            stream = _Bounded(gzip.GzipFile(fileobj=raw), limits.max_bytes, shown)  # type: ignore[arg-type]
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    relative = _checked(member.name, shown)
                    head, _, rest = relative.partition("/")
                    if top is None:
                        top = head
                    elif head != top:
                        raise ArchiveError(
                            f"{shown}: entry {member.name!r} is outside the chart's directory "
                            f"{top}/: a chart archive holds one directory"
                        )
                    if member.issym() or member.islnk():
                        kind = "symlink" if member.issym() else "hard link"
                        raise ArchiveError(
                            f"{shown}: entry {member.name!r} is a {kind}; chart archives may "
                            "hold only files and directories"
                        )
                    if not (member.isreg() or member.isdir()):
                        raise ArchiveError(
                            f"{shown}: entry {member.name!r} is not a file or directory"
                        )
                    if rest in seen and member.isreg():
                        raise ArchiveError(f"{shown}: entry {member.name!r} appears twice")
                    seen.add(rest)
                    path = target / rest if rest else target
                    if member.isdir():
                        path.mkdir(parents=True, exist_ok=True)
                        continue
                    files += 1
                    if files > limits.max_files:
                        raise ArchiveError(f"{shown}: more than {limits.max_files} files; refused")
                    if not rest:
                        raise ArchiveError(f"{shown}: entry {member.name!r} is not in a directory")
                    _write(tar, member, path, shown)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        if isinstance(exc, PermanentError):
            raise
        raise ArchiveError(f"{shown}: not a chart archive (a gzipped tar): {exc}") from None
    if top is None or not (target / "Chart.yaml").is_file():
        raise ArchiveError(f"{shown}: no Chart.yaml in its top directory: not a chart archive")
    return target


def _checked(name: str, shown: str) -> str:
    """The entry's normalised relative path; refused when it is absolute or leaves the archive."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"{shown}: entry {name!r} has an absolute path; refused")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise ArchiveError(f"{shown}: entry {name!r} leaves its directory ('..'); refused")
    normal = posixpath.normpath(name.replace("\\", "/"))
    if normal in (".", "") or "\0" in normal:
        raise ArchiveError(f"{shown}: entry {name!r} has no usable path; refused")
    return normal


def _write(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path, shown: str) -> None:
    source = tar.extractfile(member)
    if source is None:
        raise ArchiveError(f"{shown}: entry {member.name!r} cannot be read")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.parent.is_dir() or path.parent.is_symlink():
        raise ArchiveError(f"{shown}: entry {member.name!r} is inside a file")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise ArchiveError(f"{shown}: entry {member.name!r} appears twice") from None
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(1024 * 1024):
            out.write(chunk)


class _Bounded(io.RawIOBase):
    """A read-only stream that stops with an error past `limit` bytes."""

    def __init__(self, inner: IO[bytes], limit: int, shown: str) -> None:
        self._inner = inner
        self._limit = limit
        self._read = 0
        self._shown = shown

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        self._read += len(data)
        if self._read > self._limit:
            size = f"{self._limit // MiB} MiB" if self._limit >= MiB else f"{self._limit} bytes"
            raise ArchiveError(f"{self._shown}: unpacks to more than {size}; refused")
        buffer[: len(data)] = data
        return len(data)
