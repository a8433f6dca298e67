"""fleet.yaml's `repositories`: Git repositories, chart repositories and OCI registries, their
URLs, refs and credentials. Credentials are references (environment variable names, a key file);
no error echoes their values, and a URL that carries a password is refused."""

from __future__ import annotations

import os
import re
from typing import Any

from fleetsync.shared.fleet.nodes import At
from fleetsync.shared.fleet.walk import Walker, absolute
from fleetsync.shared.model.declaration import (
    Credentials,
    Repository,
    RepoType,
)
from fleetsync.shared.model.ids import RepoName
from fleetsync.shared.urls import SCP_LIKE as _SCP_LIKE
from fleetsync.shared.urls import display_url

REPOSITORY_KEYS = ("name", "type", "url", "ref", "interval", "credentials", "insecure", "caFile")
_CREDENTIAL_KEYS = ("username_env", "password_env", "ssh_key_file", "token_env")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat", "xox", "AKIA")
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_SHORT_SHA = re.compile(r"(?=.*[0-9])(?=.*[a-fA-F])[0-9a-fA-F]{7,39}")
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[/.]|/\.|[/.]$|\.lock$|^@$")
_PASSWORD_IN_USERINFO = re.compile(r"[^/@\s]*:[^/@\s]*@")
_URL_SCHEMES = ("https", "http", "ssh", "git", "file")


def _looks_like_secret(text: str) -> bool:
    if text.startswith(_TOKEN_PREFIXES):
        return True
    classes = (r"[a-z]", r"[A-Z]", r"[0-9]")
    return len(text) >= 24 and all(re.search(c, text) for c in classes)


def _article(kind: RepoType) -> str:
    return "an" if kind is RepoType.OCI else "a"


class RepositoryReader(Walker):
    """Reads `repositories` entries (and remembers each one's type for the applications)."""

    def repository(self, name: str | None, f: dict[str, At]) -> Repository | None:
        kind = RepoType.GIT
        if "type" in f:
            choice = self.choice(f["type"], [t.value for t in RepoType])
            kind = RepoType(choice) if choice else RepoType.GIT
        if name is not None:
            self.repo_types[name] = kind
        if kind is RepoType.GIT:
            url = self.url(f["url"]) if "url" in f else None
        else:
            url = self.chart_source_url(f["url"], kind) if "url" in f else None
        options: dict[str, Any] = {"type": kind}
        if "ref" in f:
            if kind is not RepoType.GIT:
                self.error(
                    f["ref"],
                    f"{_article(kind)} {kind} repository has no ref: each application names its "
                    "chart and version",
                )
            options["ref"] = self.ref(f["ref"])
        if "interval" in f:
            options["interval"] = self.duration(f["interval"])
        if "credentials" in f:
            options["credentials"] = self.credentials(f["credentials"], kind)
        if "insecure" in f:
            if kind is not RepoType.OCI:
                self.error(f["insecure"], "applies only to repositories of type oci")
            options["insecure"] = self.boolean(f["insecure"])
        if "caFile" in f:
            if kind is RepoType.GIT:
                self.error(f["caFile"], "applies only to repositories of type helm or oci")
            text = self.string(f["caFile"])
            options["ca_file"] = absolute(text, self.base_dir) if text else None
            if text and not os.path.isfile(options["ca_file"] or ""):
                self.warn(f["caFile"], f"the CA file {options['ca_file']} does not exist")
        if name is None or url is None:
            return None
        return Repository(name=RepoName(name), url=url, **options)

    def chart_source_url(self, at: At, kind: RepoType) -> str | None:
        """A chart repository's https/http URL, or an OCI registry's oci://host/path."""
        text = self.string(at)
        if text is None:
            return None
        text = text.strip().rstrip("/")
        parts = self.url_parts(at, text)
        if parts is None:
            return None
        schemes = ("oci",) if kind is RepoType.OCI else ("https", "http")
        if parts.password is not None or parts.username is not None:
            self.error(at, "must not carry credentials; name environment variables in credentials")
        elif parts.scheme.lower() not in schemes:
            example = (
                "oci://registry.example.com/charts"
                if kind is RepoType.OCI
                else ("https://charts.example.com")
            )
            self.error(
                at,
                f"{_article(kind)} {kind} repository's URL starts with "
                f"{' or '.join(s + '://' for s in schemes)}"
                f" (e.g. {example})",
            )
        elif not parts.hostname:
            self.error(at, f"'{display_url(text)}' names no host")
        elif parts.query or parts.fragment:
            self.error(at, "must not have a query or a fragment")
        else:
            return text
        return None

    def url(self, at: At) -> str | None:
        """A git URL; never echoed with its userinfo, and refused if it carries a password."""
        text = self.string(at)
        if text is None:
            return None
        text = text.strip()
        password = "must not carry a password; name an environment variable in credentials"
        if "://" in text:
            parts = self.url_parts(at, text)
            if parts is None:
                return None
            scheme = parts.scheme.lower()
            if parts.password is not None:
                self.error(at, password)
            elif scheme not in _URL_SCHEMES:
                self.error(
                    at,
                    f"scheme '{scheme}' is not supported; use https, http, ssh, git or file, "
                    "an scp-like user@host:path, or a local path",
                )
            elif scheme != "file" and not parts.hostname:
                self.error(at, f"'{display_url(text)}' names no host")
            elif scheme == "file" and not parts.path:
                self.error(at, f"'{text}' names no path")
            else:
                return text
            return None
        if _PASSWORD_IN_USERINFO.match(text):
            self.error(at, password)
            return None
        if _SCP_LIKE.fullmatch(text):
            return text
        path = absolute(text, self.base_dir)
        if not os.path.isdir(path):
            self.warn(at, f"local repository {path} does not exist")
        return path

    def ref(self, at: At) -> str | None:
        text = self.string(at)
        if text is None:
            return None
        if _FULL_SHA.fullmatch(text):
            return text.lower()
        if _BAD_REF.search(text):
            self.error(at, f"'{text}' is not a valid branch, tag or full commit sha")
            return None
        if _SHORT_SHA.fullmatch(text):
            self.warn(
                at,
                f"'{text}' looks like an abbreviated commit sha, but only a full sha (40 hex "
                "digits) is taken as a commit: this one is looked up as a branch or tag",
            )
        return text

    def credentials(self, at: At, kind: RepoType = RepoType.GIT) -> Credentials | None:
        f = self.mapping(at, _CREDENTIAL_KEYS)
        if f is None:
            return None
        user, password, key, token = (name in f for name in _CREDENTIAL_KEYS)
        if token:
            if kind is RepoType.GIT:
                self.error(f["token_env"], "applies only to repositories of type helm or oci")
            elif user or password or key:
                self.error(at, "use either username_env and password_env, or token_env, not both")
            name = self.env_name(f["token_env"])
            return Credentials(token_env=name) if name else None
        if key and kind is not RepoType.GIT:
            self.error(f["ssh_key_file"], "applies only to Git repositories")
        elif key and (user or password):
            self.error(at, "use either username_env and password_env, or ssh_key_file, not both")
        elif user != password:
            missing = "password_env" if user else "username_env"
            self.error(at, f"username_env and password_env go together; add '{missing}'")
        elif not key and not user:
            other = "ssh_key_file" if kind is RepoType.GIT else "token_env"
            self.error(at, f"name username_env and password_env, or {other}")
        found = {name: self.env_name(f[name]) for name in _CREDENTIAL_KEYS[:2] if name in f}
        if key:
            text = self.string(f["ssh_key_file"])
            found["ssh_key_file"] = absolute(text, self.base_dir) if text else None
            if text and not os.path.isfile(found["ssh_key_file"] or ""):
                self.warn(f["ssh_key_file"], "the SSH key file does not exist")
        return Credentials(**found)

    def env_name(self, at: At) -> str | None:
        """The NAME of an environment variable; the text is never echoed (it may be a secret)."""
        text = self.string(at)
        if text is None:
            return None
        if not _ENV_NAME.fullmatch(text):
            self.error(
                at,
                "must name an environment variable (letters, digits and '_', not starting with "
                "a digit), not hold a value",
            )
            return None
        if _looks_like_secret(text):
            self.error(
                at,
                "must name an environment variable, and this looks like a secret value: put the "
                "secret in an environment variable and write the variable's name here",
            )
            return None
        return text
