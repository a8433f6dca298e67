"""Real git servers for tests: bare repositories served over the network, and clones to push to.

One `GitServer` serves a directory of bare repositories two ways at once:

- `git daemon` at `git://127.0.0.1:PORT/NAME.git` (anonymous, like any git daemon);
- smart HTTP at `http://127.0.0.1:PORT/NAME.git`: a small threaded HTTP server running
  `git http-backend` as a CGI, that counts the requests it serves and asks for HTTP Basic
  credentials for the repositories created `private=True`.

`create_repo` returns a `WorkRepo`: a working clone that writes files, commits and pushes to the
served repository (branch main). Plain `git` subprocesses with no system or global config.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote

from tests.support.redis_server import free_port
from tests.support.waiting import wait_for

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "fleetsync tests",
    "GIT_AUTHOR_EMAIL": "tests@fleetsync.invalid",
    "GIT_COMMITTER_NAME": "fleetsync tests",
    "GIT_COMMITTER_EMAIL": "tests@fleetsync.invalid",
    "GIT_TERMINAL_PROMPT": "0",
}


def run_git(*args: str, cwd: Path | None = None) -> str:
    """Run git with a hermetic config; return its stdout; raise with its stderr on failure."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class WorkRepo:
    """A working clone of a served repository; every commit is pushed to it at once."""

    name: str
    path: Path
    bare: Path

    def write(self, path: str, text: str) -> None:
        file = self.path / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)

    def remove(self, path: str) -> None:
        run_git("rm", "-r", "--quiet", "--", path, cwd=self.path)

    def symlink(self, path: str, target: str) -> None:
        link = self.path / path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)

    def commit(self, message: str = "change") -> str:
        """Commit everything in the working tree and push it to branch main; return the sha."""
        run_git("add", "--all", cwd=self.path)
        run_git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.path)
        run_git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=self.path)
        return self.head

    def tag(self, name: str, *, annotated: bool = True) -> str:
        """Tag the current commit and push the tag; return the commit's sha."""
        extra = ["-a", "-m", f"release {name}"] if annotated else []
        run_git("tag", *extra, name, cwd=self.path)
        run_git("push", "--quiet", "origin", f"refs/tags/{name}", cwd=self.path)
        return self.head

    def branch(self, name: str) -> str:
        """Push the current commit as branch `name` too; return its sha."""
        run_git("push", "--quiet", "origin", f"HEAD:refs/heads/{name}", cwd=self.path)
        return self.head

    @property
    def head(self) -> str:
        return run_git("rev-parse", "HEAD", cwd=self.path)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    repo: str
    user: str | None


class GitServer:
    """git daemon and smart HTTP over one directory of bare repositories."""

    def __init__(self, root: Path, *, username: str = "fleetsync-bot", password: str = "") -> None:
        self.root = root / "served"
        self.work = root / "work"
        self.username = username
        self.password = password or secrets.token_urlsafe(18)
        self.private: set[str] = set()
        self.requests: list[HttpRequest] = []
        self._lock = threading.Lock()
        self._daemon: subprocess.Popen[bytes] | None = None
        self._http: ThreadingHTTPServer | None = None
        self.git_port = 0
        self.http_port = 0

    # -- lifecycle

    def __enter__(self) -> GitServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self._start_daemon()
        self._start_http()

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._daemon is not None:
            self._daemon.terminate()
            self._daemon.wait(timeout=10)
            self._daemon = None

    def stop_daemon(self) -> None:
        """Stop serving git:// (a git server that is down); `start_daemon` serves again on the
        same port."""
        if self._daemon is not None:
            self._daemon.terminate()
            self._daemon.wait(timeout=10)
            self._daemon = None

    def start_daemon(self) -> None:
        self._start_daemon(port=self.git_port)

    def _start_daemon(self, port: int | None = None) -> None:
        wanted = port
        for _ in range(5):
            port = wanted or free_port()
            proc = subprocess.Popen(
                [
                    "git",
                    "daemon",
                    "--export-all",
                    f"--base-path={self.root}",
                    "--reuseaddr",
                    "--enable=receive-pack",
                    "--listen=127.0.0.1",
                    f"--port={port}",
                ],
                env={**os.environ, **GIT_ENV},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if _wait_for_port(port, proc):
                self._daemon, self.git_port = proc, port
                return
            proc.kill()
            proc.wait()
        raise RuntimeError("git daemon did not start")

    def _start_http(self) -> None:
        server = _HttpServer(("127.0.0.1", 0), _CgiHandler, git=self)
        self.http_port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, name="git-http", daemon=True).start()
        self._http = server

    # -- repositories

    def create_repo(self, name: str, *, private: bool = False) -> WorkRepo:
        """A new served repository `name` (empty) and a working clone of it."""
        bare = self.root / f"{name}.git"
        if bare.exists():
            raise ValueError(f"{name}: repository exists already")
        run_git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
        work = self.work / name
        run_git("clone", "--quiet", str(bare), str(work))
        run_git("checkout", "--quiet", "-B", "main", cwd=work)
        if private:
            self.private.add(name)
        return WorkRepo(name=name, path=work, bare=bare)

    def git_url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.git_port}/{name}.git"

    def http_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http_port}/{name}.git"

    def requests_for(self, name: str) -> list[HttpRequest]:
        with self._lock:
            return [r for r in self.requests if r.repo == name]

    def _record(self, request: HttpRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _authorized(self, header: str | None) -> str | None:
        """The user named by a valid Basic Authorization header, else None."""
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        ok = secrets.compare_digest(user, self.username) and secrets.compare_digest(
            password, self.password
        )
        return user if ok else None


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> bool:
    def answering() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    try:
        return (
            wait_for(lambda: answering() or proc.poll() is not None, timeout=timeout, interval=0.05)
            and proc.poll() is None
        )
    except AssertionError:
        return False


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, git: GitServer
    ) -> None:
        super().__init__(address, handler)
        self.git = git


class _CgiHandler(BaseHTTPRequestHandler):
    """Runs `git http-backend` for each request, as a web server would run the CGI."""

    server: _HttpServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _serve(self) -> None:
        git = self.server.git
        path, _, query = self.path.partition("?")
        path = unquote(path)
        repo = path.lstrip("/").split("/", 1)[0].removesuffix(".git")
        user = git._authorized(self.headers.get("Authorization"))
        git._record(HttpRequest(method=self.command, path=path, repo=repo, user=user))
        body = self._body()
        if repo in git.private and user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="fleetsync tests"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = {
            **os.environ,
            **GIT_ENV,
            "GIT_PROJECT_ROOT": str(git.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": user or "",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        proc = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120
        )
        head, sep, payload = proc.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))
