"""Git, the source of truth: ls-remote, bare mirrors, tree hashes and checkouts.

The only module that imports GitPython. poll resolves a repository's ref to a commit with one
`git ls-remote` and no clone. fetch keeps one bare mirror per repository URL per host, created once
and then updated with incremental fetches, and only when the wanted commit is missing, so a
re-render of a known commit costs no network. The tree hash of an application's path decides
whether it needs rendering at all; `export_tree` materialises a commit for a renderer through a
private index, never touching the mirror's own.

Credentials are read from the environment variables the declaration names, at call time, and
reach git only through the environment of its subprocess (a GIT_ASKPASS helper that echoes them,
or GIT_SSH_COMMAND with a key file): never a URL, an argument, a file or a message. Every git
subprocess has a timeout and can never stop at a prompt.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import posixpath
import re
import shlex
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import get_close_matches
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from git.cmd import Git
from git.exc import GitCommandNotFound

from fleetsync.shared.errors import FleetsyncError, PermanentError, TransientError
from fleetsync.shared.model.declaration import Credentials, Repository
from fleetsync.shared.model.revision import Revision
from fleetsync.shared.urls import display_url, redact_urls

_SHA = re.compile(r"[0-9a-f]{40}")
# Settings for every git call: no credential helper may store or supply a secret (ours comes from
# the askpass helper only), and no transport that runs arbitrary commands.
_CONFIG = ("-c", "credential.helper=", "-c", "protocol.ext.allow=never")
_USER_VAR = "FLEETSYNC_GIT_USERNAME"
_PASSWORD_VAR = "FLEETSYNC_GIT_PASSWORD"
_ASKPASS = f"""#!/bin/sh
# fleetsync: answers git's username/password prompts from this process's environment.
case "$1" in
  [Uu]sername*) value="${{{_USER_VAR}-}}" ;;
  *) value="${{{_PASSWORD_VAR}-}}" ;;
esac
[ -n "$value" ] || exit 1
printf '%s\\n' "$value"
"""
_DEFAULT_USERNAME = "git"
"""Sent when only a password (a token) is configured: hosts that take tokens ignore the name."""


# ---------------------------------------------------------------------------------------------
# Running git


@dataclass(frozen=True, slots=True)
class _Result:
    status: int
    out: bytes
    err: str

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def timed_out(self) -> bool:
        return self.status == -signal.SIGKILL or self.err.startswith("Timeout: the command")


def _git(
    args: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: BinaryIO | None = None,
) -> _Result:
    try:
        status, out, err = Git(cwd).execute(
            ["git", *_CONFIG, *args],
            istream=stdin,
            with_extended_output=True,
            with_exceptions=False,
            stdout_as_string=False,
            kill_after_timeout=timeout,
            env=env,
        )
    except GitCommandNotFound:
        raise PermanentError("git: executable not found on PATH; install git") from None
    return _Result(status=status, out=out, err=err)


def _local(
    mirror: Path,
    args: Sequence[str],
    *,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
    stdin: BinaryIO | None = None,
) -> _Result:
    """git on a mirror (or any bare repository); never through the network."""
    return _git([f"--git-dir={mirror}", *args], timeout=timeout, env=env, stdin=stdin)


@dataclass(frozen=True, slots=True)
class _Remote:
    """How to reach one repository: its URL as given and as shown, git's environment, and the
    secret values to scrub from anything git says."""

    repo: Repository
    env: Mapping[str, str]
    secrets: tuple[str, ...]
    workdir: Path

    @property
    def url(self) -> str:
        return self.repo.url

    @property
    def shown(self) -> str:
        return display_url(self.repo.url)

    def scrub(self, text: str) -> str:
        text = redact_urls(text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


@contextmanager
def _remote(repo: Repository) -> Iterator[_Remote]:
    """The environment git needs to reach `repo`, valid inside the block: a private directory
    holding the askpass helper, removed afterwards."""
    if repo.url.startswith("-"):
        raise PermanentError(f"{repo.name}: {display_url(repo.url)!r} is not a repository URL")
    values = _credential_values(repo)
    with tempfile.TemporaryDirectory(prefix="fleetsync-git-") as tmp:
        askpass = Path(tmp) / "askpass"
        askpass.write_text(_ASKPASS)
        askpass.chmod(0o700)
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": str(askpass),
            "GIT_SSH_COMMAND": _ssh_command(repo),
            "GIT_LFS_SKIP_SMUDGE": "1",
            **values,
        }
        yield _Remote(
            repo=repo, env=env, secrets=tuple(v for v in values.values() if v), workdir=Path(tmp)
        )


def _credential_values(repo: Repository) -> dict[str, str]:
    creds = repo.credentials
    if creds is None or (creds.username_env is None and creds.password_env is None):
        return {}
    username = _read_env(repo, creds.username_env, "username_env")
    password = _read_env(repo, creds.password_env, "password_env")
    return {
        _USER_VAR: username if username is not None else _DEFAULT_USERNAME,
        _PASSWORD_VAR: password or "",
    }


def _read_env(repo: Repository, name: str | None, field: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise PermanentError(
            f"{repo.name}: environment variable {name} (credentials.{field}) is not set or empty "
            "in this worker's environment; set it where the fetch workers run"
        )
    return value


def _ssh_command(repo: Repository) -> str:
    key = repo.credentials.ssh_key_file if repo.credentials else None
    if key is None:
        return "ssh -o BatchMode=yes"
    path = Path(key).expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise PermanentError(
            f"{repo.name}: ssh key file {path} (credentials.ssh_key_file) does not exist or is "
            "not readable by this worker"
        )
    return f"ssh -i {shlex.quote(str(path))} -o IdentitiesOnly=yes -o BatchMode=yes"


# ---------------------------------------------------------------------------------------------
# What went wrong


class _Failure(Enum):
    TIMEOUT = "timeout"
    AUTH = "auth"
    NOT_FOUND = "not found"
    UNREACHABLE = "unreachable"
    CORRUPT = "corrupt"
    OTHER = "other"


_CAUSES: tuple[tuple[_Failure, re.Pattern[str]], ...] = (
    (
        _Failure.AUTH,
        re.compile(
            r"Authentication failed|could not read (Username|Password)|terminal prompts disabled"
            r"|Permission denied \(|returned error: 40[13]|Host key verification failed"
            r"|Invalid username or password|askpass",
            re.IGNORECASE,
        ),
    ),
    (
        _Failure.NOT_FOUND,
        re.compile(
            r"repository '.*' not found|Repository not found|does not appear to be a git repository"
            r"|repository not exported|no such repository|returned error: 404|project you were "
            r"looking for could not be found",
            re.IGNORECASE,
        ),
    ),
    (
        _Failure.UNREACHABLE,
        re.compile(
            r"Connection refused|Could not resolve|Failed to connect|timed out|Network is "
            r"unreachable|No route to host|unable to connect|unable to access|Connection reset"
            r"|Connection closed|early EOF|hung up|returned error: (5\d\d|429)|Temporary failure"
            r"|RPC failed|SSL_ERROR|gnutls|Broken pipe",
            re.IGNORECASE,
        ),
    ),
)
_CORRUPT = re.compile(
    r"^(?!remote:).*(not a git repository|bad object|corrupt|did not send all necessary objects"
    r"|unable to read|bad (tree|commit|blob)|missing (tree|commit|blob)|packfile|index file"
    r"|loose object|object file|invalid index-pack)",
    re.IGNORECASE | re.MULTILINE,
)


def _cause(result: _Result) -> _Failure:
    if result.timed_out:
        return _Failure.TIMEOUT
    for cause, pattern in _CAUSES:
        if pattern.search(result.err):
            return cause
    return _Failure.CORRUPT if _CORRUPT.search(result.err) else _Failure.OTHER


def _error(remote: _Remote, what: str, result: _Result, *, timeout: float) -> FleetsyncError:
    """The error for a failed remote git command: starts with the repository's name, says what to
    do where that is known, never carries a credential."""
    name, url = remote.repo.name, remote.shown
    detail = _detail(remote.scrub(result.err))
    match _cause(result):
        case _Failure.TIMEOUT:
            return TransientError(f"{name}: {what} {url} timed out after {timeout:g}s")
        case _Failure.AUTH:
            return PermanentError(
                f"{name}: authentication to {url} failed; {_auth_hint(remote.repo.credentials)}"
                f" (git: {detail})"
            )
        case _Failure.NOT_FOUND:
            return PermanentError(
                f"{name}: repository {url} not found (or not visible with these credentials); "
                f"check the url in fleet.yaml (git: {detail})"
            )
        case _Failure.UNREACHABLE:
            return TransientError(f"{name}: {what} {url} failed, will retry (git: {detail})")
        case _:
            return TransientError(f"{name}: {what} {url} failed (git: {detail})")


def _auth_hint(creds: Credentials | None) -> str:
    if creds is None:
        return (
            "the repository needs credentials: declare credentials (username_env/password_env "
            "or ssh_key_file) for it in fleet.yaml"
        )
    hints = []
    names = [n for n in (creds.username_env, creds.password_env) if n]
    if names:
        hints.append(
            f"check the environment variable{'s' if len(names) > 1 else ''} {' and '.join(names)}"
            " in the fetch workers' environment"
        )
    if creds.ssh_key_file:
        hints.append(
            f"check that the key in {creds.ssh_key_file} is authorised on the server and that the "
            "host is in known_hosts"
        )
    return "; ".join(hints) or "check the repository's credentials"


def _detail(err: str) -> str:
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    return " | ".join(lines[-3:])[:500] or "no message"


# ---------------------------------------------------------------------------------------------
# Resolving a ref


def resolve_revision(repo: Repository, *, timeout: float = 30) -> Revision:
    """The commit `repo.ref` points at now, by one `git ls-remote` (no clone).

    A branch (`main`, `refs/heads/main`) or a tag (`v1`, `refs/tags/v1`; annotated tags give the
    commit they point at); a name that is both is taken as the branch. A full 40-hex sha is
    returned as is, with no network: fetching it verifies it.
    """
    ref = repo.ref.strip()
    if _SHA.fullmatch(ref.lower()):
        return Revision(ref=repo.ref, sha=ref.lower())
    standard = not ref.startswith("refs/") or ref.startswith(("refs/heads/", "refs/tags/"))
    scope = ["--heads", "--tags"] if standard and ref != "HEAD" else []
    with _remote(repo) as remote:
        result = _git(
            ["ls-remote", *scope, "--", remote.url],
            timeout=timeout,
            env=remote.env,
            cwd=remote.workdir,
        )
        if not result.ok:
            raise _error(remote, "ls-remote", result, timeout=timeout)
    refs = _parse_refs(result.out)
    sha = _pick(refs, ref)
    if sha is None:
        raise PermanentError(_unknown_ref(repo, ref, refs))
    return Revision(ref=repo.ref, sha=sha)


MIN_SHORT_SHA = 4
_SHORT_SHA = re.compile(r"[0-9a-f]{4,39}")


def is_short_sha(text: str) -> bool:
    """Whether `text` could be an abbreviated commit sha (4 to 39 hex digits)."""
    return bool(_SHORT_SHA.fullmatch(text.strip().lower()))


def resolve_short_sha(
    repo: Repository, prefix: str, *, mirror_dir: Path, timeout: float = 300
) -> Revision:
    """The commit that a unique prefix of its sha names, among the commits of the repository's
    branches and tags (its mirror on this host, brought up to date first). PermanentError when
    no commit or more than one starts with it, naming them."""
    wanted = prefix.strip().lower()
    if not is_short_sha(wanted):
        raise PermanentError(
            f"{repo.name}: {prefix!r} is not a sha prefix: give {MIN_SHORT_SHA} to 40 hex digits"
        )
    path = mirror_path(repo.url, mirror_dir=mirror_dir)
    deadline = time.monotonic() + timeout
    with _locked(path, repo=repo, deadline=deadline):
        with _remote(repo) as remote:
            _refresh(remote, path, deadline=deadline)
        found = _local(path, ["rev-parse", f"--disambiguate={wanted}"], timeout=30)
        candidates = found.out.decode().split() if found.ok else []
        commits = sorted(
            c
            for c in candidates
            if _SHA.fullmatch(c) and _local(path, ["cat-file", "-e", f"{c}^{{commit}}"]).ok
        )
    where = display_url(repo.url)
    if not commits:
        raise PermanentError(
            f"{repo.name}: no commit of the branches and tags of {where} starts with {wanted}; "
            "check the sha, or give all 40 hex digits of a commit no branch or tag holds"
        )
    if len(commits) > 1:
        shown = ", ".join(c[:12] for c in commits[:5]) + (" ..." if len(commits) > 5 else "")
        raise PermanentError(
            f"{repo.name}: {wanted} is ambiguous: {len(commits)} commits start with it "
            f"({shown}); give more of the sha"
        )
    return Revision(ref=commits[0], sha=commits[0])


def _parse_refs(out: bytes) -> dict[str, str]:
    refs: dict[str, str] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        sha, _, name = line.partition("\t")
        if _SHA.fullmatch(sha) and name:
            refs[name] = sha
    return refs


def _pick(refs: Mapping[str, str], ref: str) -> str | None:
    candidates = [ref] if ref.startswith("refs/") or ref == "HEAD" else []
    candidates += [f"refs/heads/{ref}", f"refs/tags/{ref}"] if not candidates else []
    for name in candidates:
        if name in refs:
            return refs.get(f"{name}^{{}}", refs[name])
    return None


def _unknown_ref(repo: Repository, ref: str, refs: Mapping[str, str]) -> str:
    branches = sorted(n.removeprefix("refs/heads/") for n in refs if n.startswith("refs/heads/"))
    tags = sorted(
        n.removeprefix("refs/tags/")
        for n in refs
        if n.startswith("refs/tags/") and not n.endswith("^{}")
    )
    url = display_url(repo.url)
    if not branches and not tags:
        return f"{repo.name}: ref {ref!r} not found: {url} has no branches or tags"
    short = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    parts = [f"{repo.name}: ref {ref!r} not found at {url}"]
    close = get_close_matches(short, branches + tags, n=1)
    if close:
        parts.append(f"did you mean {close[0]!r}?")
    parts.append(f"branches: {_some(branches)}; tags: {_some(tags)}")
    if re.fullmatch(r"[0-9a-fA-F]{7,39}", ref):
        parts.append("a commit must be given as its full 40-hex sha")
    return "; ".join(parts)


def _some(names: Sequence[str], limit: int = 8) -> str:
    if not names:
        return "none"
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


# ---------------------------------------------------------------------------------------------
# Mirrors


def mirror_path(url: str, *, mirror_dir: Path) -> Path:
    """Where the bare mirror of `url` lives on this host: a directory named by the URL's hash."""
    digest = hashlib.sha256(redact_urls(url).rstrip("/").encode()).hexdigest()[:32]
    return mirror_dir / f"{digest}.git"


def sync_mirror(repo: Repository, *, mirror_dir: Path, sha: str, timeout: float = 300) -> Path:
    """The host's bare mirror of `repo`, holding commit `sha`.

    Created on first use, afterwards updated by an incremental fetch of branches and tags (and of
    `sha` itself if no branch or tag holds it), and only when `sha` is missing: a known sha costs
    no network. Safe across threads and processes (one lock file per mirror). A broken mirror is
    recreated. Raises PermanentError when the repository does not have the commit.
    """
    sha = _check_sha(sha)
    path = mirror_path(repo.url, mirror_dir=mirror_dir)
    if commit_exists(path, sha):
        return path
    deadline = time.monotonic() + timeout
    with _locked(path, repo=repo, deadline=deadline):
        if commit_exists(path, sha):
            return path
        with _remote(repo) as remote:
            _update(remote, path, sha, deadline=deadline)
    return path


_BRANCHES_AND_TAGS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def _update(remote: _Remote, path: Path, sha: str, *, deadline: float) -> None:
    _refresh(remote, path, deadline=deadline)
    if commit_exists(path, sha):
        return
    # A commit no branch or tag holds (a pinned sha, a pull request's head): ask for it by name,
    # kept under a ref of ours so that garbage collection does not drop it.
    pinned = f"+{sha}:refs/fleetsync/pinned/{sha}"
    _fetch_refs(remote, path, [pinned], deadline=deadline, refused_is_missing=True)
    if not commit_exists(path, sha):
        raise PermanentError(
            f"{remote.repo.name}: commit {sha[:12]} not found in {remote.shown}; check the ref in "
            "fleet.yaml (a force-push may have removed the commit)"
        )


def _refresh(remote: _Remote, path: Path, *, deadline: float) -> None:
    """Bring the mirror's branches and tags up to date (making it, or making it again when it
    is damaged)."""
    fresh = not _is_mirror(path)
    if not fresh:
        try:
            _fetch_refs(remote, path, _BRANCHES_AND_TAGS, deadline=deadline)
        except _Broken:
            fresh = True
    if fresh:
        shutil.rmtree(path, ignore_errors=True)
        _create(remote, path, deadline=deadline)


class _Broken(Exception):
    """The mirror itself is damaged: recreate it."""


def _create(remote: _Remote, path: Path, *, deadline: float) -> None:
    """A new mirror of every branch and tag, built beside its final place and renamed into it
    when complete: a mirror path never holds a half-made mirror."""
    for stale in path.parent.glob(f"{path.name}.new-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = path.with_name(f"{path.name}.new-{uuid.uuid4().hex[:8]}")
    try:
        result = _git(["init", "--quiet", "--bare", str(staging)], timeout=_left(deadline))
        if not result.ok:
            raise TransientError(f"{remote.repo.name}: cannot create mirror {path}: {result.err}")
        (staging / "description").write_text(f"fleetsync mirror of {remote.shown}\n")
        for key in ("gc.autoDetach", "maintenance.autoDetach"):
            _local(staging, ["config", key, "false"])  # housekeeping runs inside our lock
        try:
            _fetch_refs(remote, staging, _BRANCHES_AND_TAGS, deadline=deadline)
        except _Broken as exc:
            raise TransientError(
                f"{remote.repo.name}: fetch into a new mirror failed: {exc}"
            ) from None
        staging.rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fetch_refs(
    remote: _Remote,
    path: Path,
    refspecs: Sequence[str],
    *,
    deadline: float,
    refused_is_missing: bool = False,
) -> None:
    timeout = _left(deadline)
    result = _git(
        [
            f"--git-dir={path}",
            "fetch",
            "--quiet",
            "--prune",
            "--no-write-fetch-head",
            "--",
            remote.url,
            *refspecs,
        ],
        timeout=timeout,
        env=remote.env,
        cwd=remote.workdir,
    )
    if result.ok:
        return
    cause = _cause(result)
    if cause is _Failure.CORRUPT:
        raise _Broken(_detail(remote.scrub(result.err)))
    if refused_is_missing and cause is _Failure.OTHER:
        return  # the server would not give this sha: the caller reports it missing
    raise _error(remote, "fetch", result, timeout=timeout)


def _is_mirror(path: Path) -> bool:
    if not (path / "HEAD").is_file() or not (path / "objects").is_dir():
        return False
    result = _local(path, ["rev-parse", "--is-bare-repository"], timeout=30)
    return result.ok and result.out.strip() == b"true"


@contextmanager
def _locked(path: Path, *, repo: Repository, deadline: float) -> Iterator[None]:
    """Hold the mirror's lock file (flock: exclusive across processes and threads alike)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f"{path.name}.lock"), "a+b") as lock:
        while True:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TransientError(
                        f"{repo.name}: mirror {path} stayed locked by another fetch; will retry"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 1.0)


def _check_sha(sha: str) -> str:
    if not _SHA.fullmatch(sha.lower()):
        raise ValueError(f"{sha!r}: not a full 40-hex commit sha")
    return sha.lower()


# ---------------------------------------------------------------------------------------------
# Reading a mirror


def commit_exists(mirror: Path, sha: str) -> bool:
    """Whether the mirror holds commit `sha` (False when there is no mirror)."""
    sha = _check_sha(sha)
    if not (mirror / "HEAD").is_file():
        return False
    return _local(mirror, ["cat-file", "-e", f"{sha}^{{commit}}"], timeout=30).ok


def tree_hash(mirror: Path, sha: str, path: str) -> str | None:
    """The git object id of `path` at `sha` (a tree, or a blob for a file), None if absent.
    `""` and `"."` are the root tree. Reads objects only: no checkout."""
    return tree_hashes(mirror, sha, [path])[path]


def tree_hashes(mirror: Path, sha: str, paths: Iterable[str]) -> dict[str, str | None]:
    """`tree_hash` for many paths in one git call, keyed by the paths as given."""
    sha = _check_sha(sha)
    wanted = list(dict.fromkeys(paths))
    names = [f"{sha}^{{commit}}", *(f"{sha}:{_tree_path(p)}" for p in wanted)]
    with tempfile.TemporaryFile() as stdin:
        stdin.write("".join(f"{n}\n" for n in names).encode())
        stdin.seek(0)
        result = _local(
            mirror,
            ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
            stdin=stdin,
        )
    lines = result.out.decode("utf-8", "replace").splitlines()
    if not result.ok or len(lines) != len(names):
        raise TransientError(f"{mirror}: cannot read trees at {sha}: {_detail(result.err)}")
    if _found(lines[0]) is None:
        raise PermanentError(f"{mirror}: commit {sha} is not in the mirror; sync it first")
    return {p: _found(line) for p, line in zip(wanted, lines[1:], strict=True)}


def read_blob(mirror: Path, sha: str, path: str, *, max_bytes: int) -> bytes | None:
    """The content of the file `path` at commit `sha`, or None when there is none; a path that
    is a directory, or a file over `max_bytes`, is a PermanentError. Reads objects only."""
    sha = _check_sha(sha)
    name = f"{sha}:{_tree_path(path)}"
    with tempfile.TemporaryFile() as stdin:
        stdin.write(f"{name}\n".encode())
        stdin.seek(0)
        result = _local(
            mirror,
            ["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
            stdin=stdin,
        )
    fields = result.out.decode("utf-8", "replace").split()
    if not result.ok:
        raise TransientError(f"{mirror}: cannot read {path} at {sha}: {_detail(result.err)}")
    if len(fields) != 3 or not _SHA.fullmatch(fields[0]):
        return None
    if fields[1] != "blob":
        raise PermanentError(f"{path}: not a file at {sha[:12]} (it is a {fields[1]})")
    if int(fields[2]) > max_bytes:
        raise PermanentError(f"{path}: {fields[2]} bytes at {sha[:12]}, over the {max_bytes} limit")
    blob = _local(mirror, ["cat-file", "blob", fields[0]])
    if not blob.ok:
        raise TransientError(f"{mirror}: cannot read {path} at {sha}: {_detail(blob.err)}")
    return blob.out


def _found(line: str) -> str | None:
    head, _, tail = line.rpartition(" ")
    return head if _SHA.fullmatch(head) and tail in {"tree", "blob", "commit"} else None


def _tree_path(path: str) -> str:
    if "\n" in path:
        raise ValueError(f"{path!r}: a repository path cannot hold a newline")
    norm = posixpath.normpath(path.strip().lstrip("/") or ".")
    if norm == ".." or norm.startswith("../"):
        raise ValueError(f"{path!r}: path leaves the repository")
    return "" if norm == "." else norm


def changed_paths(mirror: Path, old_sha: str, new_sha: str) -> set[str]:
    """The files added, modified or deleted between two commits (a rename is both paths)."""
    old, new = _check_sha(old_sha), _check_sha(new_sha)
    result = _local(mirror, ["diff-tree", "-r", "-z", "--name-only", "--no-renames", old, new])
    if not result.ok:
        raise PermanentError(f"{mirror}: cannot diff {old}..{new}: {_detail(result.err)}")
    return {p for p in result.out.decode("utf-8", "surrogateescape").split("\0") if p}


def export_tree(mirror: Path, sha: str, dest: Path, *, timeout: float = 300) -> Path:
    """Write the files of commit `sha` into the empty (or new) directory `dest`; return `dest`.

    Reads the mirror only, through a private index: any number of exports may run at once, and
    beside a fetch. Symlinks stay symlinks (their targets are the renderer's to check); git's own
    path checks refuse `..` and `.git` entries. No smudge filters run (LFS pointers stay pointers).
    """
    sha = _check_sha(sha)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest}: export destination is not empty")
    if not commit_exists(mirror, sha):
        raise PermanentError(f"{mirror}: commit {sha} is not in the mirror; sync it first")
    with tempfile.TemporaryDirectory(prefix="fleetsync-index-") as tmp:
        result = _local(
            mirror,
            [
                f"--work-tree={dest}",
                "-c",
                "core.autocrlf=false",
                "-c",
                "core.symlinks=true",
                "read-tree",
                "--reset",
                "-u",
                sha,
            ],
            timeout=timeout,
            env={"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_LFS_SKIP_SMUDGE": "1"},
        )
    if not result.ok:
        raise TransientError(f"{mirror}: cannot export {sha} to {dest}: {_detail(result.err)}")
    return dest


@contextmanager
def checkout(mirror: Path, sha: str, *, scratch_dir: Path) -> Iterator[Path]:
    """The files of `sha` in a fresh directory under `scratch_dir`, removed after the block."""
    scratch_dir.mkdir(parents=True, exist_ok=True)
    dest = Path(tempfile.mkdtemp(prefix=f"{sha[:12]}-", dir=scratch_dir))
    try:
        yield export_tree(mirror, sha, dest)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
