"""Confinement: every path a render reads is resolved and kept inside the checkout root.

A render reads only through a `Checkout`: it resolves paths (a `..` or a symlink that leads out of
the root is an error, never a silent read), bounds file and total sizes, refuses binary files, and
stages copies of directories for the external tools so that Helm and kustomize only ever see files
that were checked here first. Every symlink target it follows is recorded as an input, because the
git tree hash of a directory covers a symlink's text, not what it points to.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from fleetsync.shared.render.request import RenderError, RenderLimits, size_text


@dataclass(frozen=True, slots=True)
class Walk:
    """The regular files under a directory, symlinks followed, and what those symlinks led to."""

    files: tuple[tuple[str, Path], ...]
    """(path relative to the walked directory, resolved path), in walk order."""
    targets: frozenset[str] = field(default_factory=frozenset)
    """Root-relative paths of symlink targets met on the way."""


class Checkout:
    """The root of one exported checkout, as one render may read it: confined and bounded."""

    def __init__(self, root: Path, *, app: str, limits: RenderLimits) -> None:
        self.app = app
        self.limits = limits
        try:
            self.root = root.resolve(strict=True)
        except OSError as exc:
            raise RenderError(app, str(root), f"checkout root is not readable: {exc}") from exc
        self._spent = 0

    def error(self, where: str, problem: str) -> RenderError:
        return RenderError(self.app, where, problem)

    def relative(self, path: Path) -> str:
        """The root-relative posix form of a resolved path inside the root ("." for the root)."""
        return path.relative_to(self.root).as_posix() or "."

    def contains(self, path: Path) -> bool:
        return path.is_relative_to(self.root)

    def resolve(self, base: Path, relative: str, *, where: str) -> Path:
        """`relative` resolved against `base` (itself inside the root); it must stay inside."""
        shown = posixpath.normpath(posixpath.join(self.relative(base), relative))
        if posixpath.isabs(relative) or shown == ".." or shown.startswith("../"):
            raise self.error(where, f"{relative!r} is outside the repository")
        resolved = (base / relative).resolve()
        if not self.contains(resolved):
            raise self.error(where, f"{relative!r} leads outside the repository through a symlink")
        return resolved

    def resolve_app_dir(self, path: str) -> tuple[Path, frozenset[str]]:
        """The application directory, and its root-relative inputs (its literal and real paths)."""
        directory = self.resolve(self.root, path, where=path)
        if not directory.exists():
            raise self.error(path, "path does not exist in the repository at this revision")
        if not directory.is_dir():
            raise self.error(path, "path is not a directory")
        return directory, frozenset({posixpath.normpath(path), self.relative(directory)})

    def charge(self, where: str, size: int) -> None:
        """Count `size` bytes against the file bound and the render's total bound."""
        limits = self.limits
        if size > limits.max_file_bytes:
            bound = size_text(limits.max_file_bytes)
            raise self.error(where, f"file is {size_text(size)}, over the {bound} limit")
        self._spent += size
        if self._spent > limits.max_total_bytes:
            bound = size_text(limits.max_total_bytes)
            raise self.error(where, f"the application's files exceed the {bound} limit")

    def read_text(self, path: Path, *, where: str) -> str:
        """The UTF-8 text of a resolved regular file inside the root, size bounded."""
        if not self.contains(path):
            raise self.error(where, "file is outside the repository")
        try:
            if not path.is_file():
                raise self.error(where, "not a regular file")
            self.charge(where, path.stat().st_size)
            data = path.read_bytes()
        except OSError as exc:
            raise self.error(where, f"cannot read: {exc.strerror or exc}") from exc
        if b"\0" in data:
            raise self.error(where, "not a text file (it contains NUL bytes)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(where, f"not a text file (invalid UTF-8 at byte {exc.start})") from exc
        return text.removeprefix("\ufeff")

    def walk(self, top: Path, *, where: str, recurse: bool = True) -> Walk:
        """Every regular file under `top` (in `top` alone without `recurse`), following symlinks
        that stay inside the root.

        A symlink that leads outside, or nowhere, is an error; a symlink cycle is walked once.
        """
        files: list[tuple[str, Path]] = []
        targets: set[str] = set()
        seen: set[Path] = set()
        pending: list[tuple[Path, str]] = [(top, "")]
        while pending:
            directory, prefix = pending.pop()
            if directory in seen:
                continue
            seen.add(directory)
            for entry in _entries(directory, self, where=_join(where, prefix)):
                sub = _join(prefix, entry.name)
                path = Path(entry.path)
                if entry.is_symlink():
                    path = self._follow(path, where=_join(where, sub))
                    targets.add(self.relative(path))
                    is_dir, is_file = path.is_dir(), path.is_file()
                else:
                    is_dir = entry.is_dir(follow_symlinks=False)
                    is_file = entry.is_file(follow_symlinks=False)
                if is_dir:
                    if recurse:
                        pending.append((path, sub))
                elif is_file:
                    files.append((sub, path))
                else:
                    raise self.error(_join(where, sub), "not a regular file or directory")
        return Walk(files=tuple(files), targets=frozenset(targets))

    def copy_tree(self, top: Path, destination: Path, *, where: str) -> frozenset[str]:
        """Copy `top` to `destination`, symlinks replaced by what they point to.

        Returns the symlink targets met (root-relative), which are inputs of the render.
        """
        walk = self.walk(top, where=where)
        destination.mkdir(parents=True, exist_ok=True)
        for sub, path in walk.files:
            self._copy_file(path, destination / sub, where=_join(where, sub))
        return walk.targets

    def mirror(self, paths: set[str], destination: Path) -> frozenset[str]:
        """Copy root-relative `paths` to the same places under `destination`.

        Symlinks stay symlinks (relative, inside `destination`), and what they point to is copied
        too, so a tool that resolves symlinks before following `..` sees the layout it would see in
        the checkout. Returns every root-relative path copied.
        """
        pending = sorted(paths)
        copied: set[str] = set()
        done: set[Path] = set()
        while pending:
            relative = pending.pop()
            source = self.resolve(self.root, relative, where=relative)
            if any(source == d or source.is_relative_to(d) for d in done):
                continue
            copied.add(relative)
            target_dir = destination / relative
            if source.is_file():
                self._copy_file(source, target_dir, where=relative)
                done.add(source)
                continue
            walking: list[Path] = [source]
            while walking:
                directory = walking.pop()
                if directory in done:
                    continue
                done.add(directory)
                into = destination / self.relative(directory)
                into.mkdir(parents=True, exist_ok=True)
                for entry in _entries(directory, self, where=self.relative(directory)):
                    path = Path(entry.path)
                    shown = self.relative(path)
                    if entry.is_symlink():
                        target = self._follow(path, where=shown)
                        link_to = destination / self.relative(target)
                        os.symlink(os.path.relpath(link_to, into), into / entry.name)
                        pending.append(self.relative(target))
                    elif entry.is_dir(follow_symlinks=False):
                        walking.append(path)
                    elif entry.is_file(follow_symlinks=False):
                        self._copy_file(path, into / entry.name, where=shown)
                    else:
                        raise self.error(shown, "not a regular file or directory")
        return frozenset(copied)

    def _follow(self, link: Path, *, where: str) -> Path:
        target = link.resolve()
        if not self.contains(target):
            raise self.error(
                where, f"symlink to {os.readlink(link)!r} leads outside the repository"
            )
        if not target.exists():
            raise self.error(where, f"broken symlink to {os.readlink(link)!r}")
        return target

    def _copy_file(self, source: Path, destination: Path, *, where: str) -> None:
        self.charge(where, source.stat().st_size)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def minimal_paths(paths: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Sorted root-relative paths, leaving out any inside another one of them."""
    kept: list[str] = []
    for path in sorted(paths, key=lambda p: (p.count("/"), p)):
        if not any(
            kept_path == "." or path == kept_path or path.startswith(kept_path + "/")
            for kept_path in kept
        ):
            kept.append(path)
    return tuple(sorted(kept))


def _entries(directory: Path, checkout: Checkout, *, where: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise checkout.error(where, f"cannot list: {exc.strerror or exc}") from exc


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix and name else prefix or name
