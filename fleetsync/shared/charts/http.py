"""HTTP for chart sources: one bounded GET, with the repository's credentials where they belong.

Plain Python (urllib), used by the fetch worker: never Helm. Every request has a timeout and a
bound on what it reads; every error names the URL without its userinfo, never a credential.
Credentials are read from the environment variables the declaration names, when the request is
made, and are sent only to the repository's own scheme, host and port (an index may point its
charts at another host: they get no credentials). A registry that answers 401 with a Bearer
challenge gets a token from the realm it names (with the credentials, if any) and the request is
repeated once with it, as the OCI distribution spec describes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from fleetsync.shared.errors import PermanentError, TransientError
from fleetsync.shared.model.declaration import Credentials, Repository
from fleetsync.shared.urls import display_url

MiB = 1024 * 1024
DEFAULT_TIMEOUT = 30.0
_CHUNK = 64 * 1024
_TOKEN_BYTES = 64 * 1024
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class SourceHTTPError(PermanentError):
    """The server answered, and not with what was asked for (401, 403, 404...)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SourceUnreachable(TransientError):
    """The server could not be reached, timed out or failed (5xx): try again later."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]
    url: str
    """The URL that answered (after redirects)."""


@dataclass(slots=True)
class Client:
    """Requests on behalf of one repository: its credentials, its TLS trust, its bounds."""

    repository: Repository
    timeout: float = DEFAULT_TIMEOUT
    _tokens: dict[tuple[str, str, int | None], str] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return self.repository.name

    def get(
        self,
        url: str,
        *,
        max_bytes: int,
        accept: str | None = None,
        headers: Mapping[str, str] | None = None,
        into: BinaryIO | None = None,
        not_modified: bool = False,
        what: str = "",
    ) -> Answer:
        """GET `url`, reading at most `max_bytes` (into `into` when given, else into the
        answer's body). With `not_modified`, a 304 is an answer (conditional requests)."""
        sent = dict(headers or {})
        if accept:
            sent["Accept"] = accept
        sent.update(self._authorization(url))
        try:
            return self._send(
                url, sent, max_bytes=max_bytes, into=into, not_modified=not_modified, what=what
            )
        except urllib.error.HTTPError as exc:
            challenge = exc.headers.get("WWW-Authenticate", "") if exc.code == 401 else ""
            if challenge.lower().startswith("bearer") and self._same_origin(url):
                sent["Authorization"] = f"Bearer {self._token(url, challenge)}"
                try:
                    return self._send(
                        url,
                        sent,
                        max_bytes=max_bytes,
                        into=into,
                        not_modified=not_modified,
                        what=what,
                    )
                except urllib.error.HTTPError as again:
                    raise self._refused(url, again, what) from None
            raise self._refused(url, exc, what) from None

    # -- sending -----------------------------------------------------------------------------

    def _send(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        max_bytes: int,
        into: BinaryIO | None,
        not_modified: bool,
        what: str = "",
    ) -> Answer:
        request = urllib.request.Request(url, headers={"User-Agent": "fleetsync", **headers})
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self._tls()), _SameOriginRedirects()
        )
        try:
            with opener.open(request, timeout=self.timeout) as response:
                answered = {k.lower(): v for k, v in response.headers.items()}
                declared = answered.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise self._too_big(url, max_bytes, what)
                body = bytearray()
                read = 0
                deadline = time.monotonic() + self.timeout * 4
                while chunk := response.read(_CHUNK):
                    if time.monotonic() > deadline:
                        raise self._unreachable(url, "too slow: the transfer took too long")
                    read += len(chunk)
                    if read > max_bytes:
                        raise self._too_big(url, max_bytes, what)
                    if into is not None:
                        into.write(chunk)
                    else:
                        body += chunk
                return Answer(response.status, bytes(body), answered, response.geturl())
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and not_modified:
                answered = {k.lower(): v for k, v in exc.headers.items()}
                return Answer(304, b"", answered, url)
            if exc.code >= 500 or exc.code == 429:
                raise SourceUnreachable(
                    f"{self.subject}: {display_url(url)} answered {exc.code} {exc.reason}; "
                    "retrying later"
                ) from None
            raise
        except urllib.error.URLError as exc:
            raise self._unreachable(url, exc.reason) from None
        except (TimeoutError, ConnectionError, ssl.SSLError, OSError) as exc:
            if isinstance(exc, PermanentError | TransientError):
                raise
            raise self._unreachable(url, exc) from None

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.repository.ca_file:
            try:
                context.load_verify_locations(cafile=self.repository.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise PermanentError(
                    f"{self.subject}: cannot read caFile {self.repository.ca_file}: "
                    f"{getattr(exc, 'strerror', None) or exc}"
                ) from None
        return context

    # -- credentials -------------------------------------------------------------------------

    def _same_origin(self, url: str) -> bool:
        return _origin(url) == _origin(_http_url(self.repository))

    def _authorization(self, url: str) -> dict[str, str]:
        if not self._same_origin(url):
            return {}
        token = self._tokens.get(_origin(url))
        if token:
            return {"Authorization": f"Bearer {token}"}
        creds = self.repository.credentials
        if creds is None:
            return {}
        if creds.token_env:
            return {"Authorization": f"Bearer {_read_env(self.subject, creds.token_env)}"}
        return _basic(self.subject, creds)

    def _token(self, url: str, challenge: str) -> str:
        """A token from the realm of a Bearer challenge (OCI distribution token auth)."""
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.pop("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise SourceHTTPError(
                f"{self.subject}: {display_url(url)} asks for a token from an unusable realm "
                f"{realm!r}",
                status=401,
            )
        wanted = {k: v for k, v in params.items() if k in ("service", "scope")}
        query = urllib.parse.urlencode(wanted)
        token_url = f"{realm}{'&' if '?' in realm else '?'}{query}" if query else realm
        creds = self.repository.credentials
        headers = _basic(self.subject, creds) if creds and creds.username_env else {}
        try:
            answer = self._send(
                token_url, headers, max_bytes=_TOKEN_BYTES, into=None, not_modified=False
            )
        except urllib.error.HTTPError as exc:
            raise self._refused(token_url, exc, "a registry token") from None
        try:
            data = json.loads(answer.body)
            token = str(data.get("token") or data.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            raise SourceHTTPError(
                f"{self.subject}: {display_url(token_url)} gave no token", status=401
            )
        self._tokens[_origin(url)] = token
        return token

    # -- errors ------------------------------------------------------------------------------

    def _refused(self, url: str, exc: urllib.error.HTTPError, what: str) -> SourceHTTPError:
        shown = display_url(url)
        subject = f"{self.subject}: {what + ' at ' if what else ''}{shown}"
        creds = self.repository.credentials
        match exc.code:
            case 401:
                hint = (
                    f"check the credentials ({_names(creds)} in the fetch worker's environment)"
                    if creds
                    else "the server wants credentials: add credentials to the repository"
                )
                return SourceHTTPError(f"{subject}: 401 Unauthorized; {hint}", status=401)
            case 403:
                return SourceHTTPError(
                    f"{subject}: 403 Forbidden; the credentials may not read it", status=403
                )
            case 404:
                return SourceHTTPError(f"{subject}: 404 Not Found", status=404)
        return SourceHTTPError(f"{subject}: answered {exc.code} {exc.reason}", status=exc.code)

    def _unreachable(self, url: str, reason: object) -> SourceUnreachable:
        text = str(getattr(reason, "strerror", None) or reason)
        if isinstance(reason, ssl.SSLCertVerificationError):
            text = f"TLS certificate not trusted ({reason.verify_message}); set caFile"
        return SourceUnreachable(f"{self.subject}: cannot reach {display_url(url)}: {text}")

    def _too_big(self, url: str, max_bytes: int, what: str) -> PermanentError:
        size = f"{max_bytes // MiB} MiB" if max_bytes >= MiB else f"{max_bytes} bytes"
        at = f"{what} at " if what else ""
        return PermanentError(
            f"{self.subject}: {at}{display_url(url)} is larger than {size}; refused"
        )


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, dropping the Authorization header when one leaves the origin."""

    def redirect_request(  # type: ignore[override]
        self,
        req: urllib.request.Request,
        fp: BinaryIO,
        code: int,
        msg: str,
        headers: Mapping[str, str],
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)  # type: ignore[arg-type]
        if new is not None and _origin(newurl) != _origin(req.full_url):
            new.headers.pop("Authorization", None)
            new.unredirected_hdrs.pop("Authorization", None)
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port or default)


def _http_url(repository: Repository) -> str:
    """The repository's URL as HTTP speaks it: oci://host/path -> https://host/path (http://
    when the repository is `insecure`)."""
    url = repository.url
    if url.startswith("oci://"):
        return ("http://" if repository.insecure else "https://") + url.removeprefix("oci://")
    return url


def _basic(subject: str, creds: Credentials) -> dict[str, str]:
    if not creds.username_env or not creds.password_env:
        return {}
    user = _read_env(subject, creds.username_env)
    password = _read_env(subject, creds.password_env)
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def _read_env(subject: str, name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise PermanentError(
            f"{subject}: environment variable {name} is not set in the fetch worker; "
            "set it where the worker runs"
        )
    return value


def _names(creds: Credentials | None) -> str:
    if creds is None:
        return "none"
    names = [n for n in (creds.username_env, creds.password_env, creds.token_env) if n]
    return ", ".join(names)


def registry_url(repository: Repository) -> str:
    return _http_url(repository)
