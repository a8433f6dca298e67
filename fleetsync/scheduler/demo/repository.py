"""The demo's Git repository: the example applications, committed, then changed once.

Plain `git` commands (the demo is a user of Git like any other, not the engine's git adapter).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from fleetsync.examples import APPS

_IDENTITY = [
    "-c",
    "user.name=fleetsync demo",
    "-c",
    "user.email=demo@fleetsync.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]

TITLE_FILE = "apps/guestbook/configmap.yaml"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *_IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def create_repository(path: Path) -> str:
    """A repository at `path` holding the example applications under apps/; the head sha."""
    path.mkdir(parents=True)
    shutil.copytree(APPS, path / "apps")
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "Add the example applications")
    return _git(path, "rev-parse", "HEAD")


def commit_change(path: Path, title: str) -> str:
    """Change the guestbook's title (a ConfigMap value) and commit; the new head sha."""
    configmap = path / TITLE_FILE
    text = configmap.read_text()
    start = text.index("GUESTBOOK_TITLE:")
    end = text.index("\n", start)
    configmap.write_text(f'{text[:start]}GUESTBOOK_TITLE: "{title}"{text[end:]}')
    _git(path, "commit", "-q", "-am", f"Retitle the guestbook: {title}")
    return _git(path, "rev-parse", "HEAD")
