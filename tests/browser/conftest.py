"""A real browser against a real `fleetsync up`: Debian's chromium, driven by Selenium through
chromium-driver, headless, with a fresh profile; fleetsync's processes on kubesim clusters and a
served git repository. One fleet per module keeps the suite bounded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from fleetsync.shared.store import Store
from kubesim import Simulator
from tests.support.git_server import GitServer, WorkRepo
from tests.support.manifests import configmap
from tests.support.up import start_up, up_env
from tests.support.waiting import wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "browser-test-token-0123456789"
CLUSTERS = ("eu-1", "eu-2", "us-1")
SCREENSHOTS_ENV = "FLEETSYNC_SCREENSHOTS"
"""When set, tests save screenshots of the pages there (the README's pictures)."""


def deployment(name: str, replicas: int) -> str:
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
              containers: [{{name: web, image: nginx:1.27}}]
        """)


@dataclass
class Fleet:
    url: str
    repo: WorkRepo
    store: Store
    env: dict[str, str]
    sim: Simulator
    workdir: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The installed CLI as an operator runs it: no Redis URL, it finds `up` by itself."""
        return subprocess.run(
            [sys.executable, "-m", "fleetsync", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def status(self) -> list[dict[str, object]]:
        done = self.cli("status", "-o", "json")
        assert done.returncode == 0, done.stderr
        rows: list[dict[str, object]] = json.loads(done.stdout)
        return rows


@pytest.fixture(scope="module")
def fleet(git_server: GitServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    workdir = tmp_path_factory.mktemp("browser-fleet")
    repo = git_server.create_repo(f"browser-{workdir.name}")
    repo.write("apps/shop/settings.yaml", configmap("settings", "one"))
    repo.write("apps/shop/web.yaml", deployment("web", 2))
    repo.write("apps/audit/log.yaml", configmap("audit", "on"))
    repo.commit("shop and audit")

    def declare(git_url: str, sim: Simulator) -> str:
        clusters = "\n".join(
            f"  - {{name: {c}, kubeconfig: {sim.kubeconfig_path(c)}, "
            f"labels: {{region: {c.split('-')[0]}}}}}"
            for c in CLUSTERS
        )
        return (
            "repositories:\n"
            f'  - {{name: platform, url: "{git_url}", ref: main, interval: 2s}}\n'
            f"clusters:\n{clusters}\n"
            "applications:\n"
            "  - {name: shop, repository: platform, path: apps/shop, namespace: default,\n"
            "     targets: {selector: {}}}\n"
            "  - {name: audit, repository: platform, path: apps/audit, namespace: default,\n"
            "     targets: {selector: {matchLabels: {region: eu}}}}\n"
        )

    with running_up(git_server, repo, workdir, CLUSTERS, declare) as found:
        yield found


@contextmanager
def running_up(
    git_server: GitServer,
    repo: WorkRepo,
    workdir: Path,
    names: Sequence[str],
    declare: Callable[[str, Simulator], str],
) -> Iterator[Fleet]:
    """`fleetsync up` on kubesim clusters `names` and the served `repo`, with the fleet.yaml
    that `declare(git_url, simulator)` writes; until the API answers /readyz."""
    with Simulator(clusters=list(names), kubeconfig_dir=workdir / "kubeconfigs") as sim:
        for name in names:
            sim.cluster(name).set_controllers(enabled=True, ready_delay=0.2)
        fleet_file = workdir / "fleet.yaml"
        git_url = git_server.git_url(repo.bare.name.removesuffix(".git"))
        fleet_file.write_text(declare(git_url, sim))
        env = up_env(workdir, FLEETSYNC_API_TOKEN=TOKEN)
        with start_up(fleet_file, env) as up:
            up.wait_ready(timeout=90)
            store = Store.connect(up.redis_url())
            yield Fleet(url=up.api_url, repo=repo, store=store, env=env, sim=sim, workdir=workdir)
            store.client.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(binary), (
            f"{binary} is missing: install Debian's chromium and chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    where = os.environ.get(SCREENSHOTS_ENV)
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(where) / f"{name}.png"))


def click(driver: webdriver.Chrome, by: str, value: str, *, what: str = "") -> None:
    """Click the element `by`/`value`, finding it again when a live update replaced it between
    the finding and the click (the pages redraw themselves as the fleet moves)."""

    def clicked() -> bool:
        try:
            driver.find_element(by, value).click()
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return True

    wait_for(clicked, timeout=10, what=what or f"a click on {value}")


def type_into(driver: webdriver.Chrome, by: str, value: str, text: str) -> None:
    """Type `text` into the field `by`/`value`, finding it again when a live update replaced it
    before the typing began (once typed in, the pages leave a form as it is)."""

    def typed() -> bool:
        try:
            driver.find_element(by, value).send_keys(text)
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return True

    wait_for(typed, timeout=10, what=f"typing into {value}")


def enter_token(driver: webdriver.Chrome) -> None:
    """Give the page the API token through its own Token button and dialog, as an operator does
    before an action (a test that needs the token does not rely on an earlier test's tab)."""
    click(driver, By.ID, "token-button")
    wait_for(
        lambda: driver.find_element(By.ID, "token-dialog").is_displayed(),
        timeout=10,
        what="the token dialog",
    )
    type_into(driver, By.ID, "token-input", TOKEN)
    click(driver, By.ID, "token-save")
    wait_for(
        lambda: driver.execute_script("return sessionStorage.getItem('fleetsync.token')") == TOKEN,
        timeout=10,
        what="the token kept for the tab",
    )
