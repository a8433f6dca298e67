"""A rollout on the application's page, in a real browser against a real `fleetsync up`: the
waves, each cluster's state and the bake's remaining time as the rollout goes, live; the page's
Pause, Resume, Pin, Unpin, Promote and Abort actions steer it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By

from fleetsync.shared.model.rollout import Phase, Rollout
from kubesim import Simulator
from tests.browser.conftest import (
    TOKEN,
    Fleet,
    click,
    configmap,
    running_up,
    screenshot,
    type_into,
)
from tests.support.git_server import GitServer
from tests.support.waiting import wait_for

CLUSTERS = ("canary-1", "main-1", "main-2", "main-3")


@pytest.fixture(scope="module")
def fleet(git_server: GitServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    workdir = tmp_path_factory.mktemp("browser-rollout")
    repo = git_server.create_repo(f"browser-rollout-{workdir.name}")
    repo.write("apps/shop/settings.yaml", configmap("settings", "one"))
    repo.commit("shop")

    def declare(git_url: str, sim: Simulator) -> str:
        clusters = "".join(
            f"  - {{name: {c}, kubeconfig: {sim.kubeconfig_path(c)}, "
            f"labels: {{ring: {c.split('-')[0]}}}}}\n"
            for c in CLUSTERS
        )
        return (
            "repositories:\n"
            f'  - {{name: platform, url: "{git_url}", ref: main, interval: 1s}}\n'
            f"clusters:\n{clusters}"
            "applications:\n"
            "  - name: shop\n"
            "    repository: platform\n"
            "    path: apps/shop\n"
            "    namespace: default\n"
            "    targets: {selector: {}}\n"
            "    rollout:\n"
            "      waves:\n"
            "        - {name: canary, selector: {matchLabels: {ring: canary}}}\n"
            "        - {name: half, percent: 50}\n"
            "      bake: 1h\n"
        )

    with running_up(git_server, repo, workdir, CLUSTERS, declare) as found:
        wait_for(
            lambda: all(value_on(found, c) == "one" for c in CLUSTERS),
            timeout=90,
            what="the first commit everywhere",
        )
        yield found


def value_on(fleet: Fleet, cluster: str) -> str | None:
    for obj in fleet.sim.cluster(cluster).objects():
        if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"] == "settings":
            return str((obj.get("data") or {}).get("value"))
    return None


def text_of(driver: webdriver.Chrome, css: str) -> str:
    try:
        return str(driver.find_element(By.CSS_SELECTOR, css).text)
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def shown(driver: webdriver.Chrome) -> dict[str, object]:
    """The rollout as the page shows it: phase, each wave's state, each cluster's state, the
    buttons, the bake's remaining seconds."""
    try:
        section = driver.find_element(By.ID, "rollout")
        bake = re.match(r"(\d+)s", text_of(driver, "#bake-remaining"))
        return {
            "phase": section.get_attribute("data-phase"),
            "waves": [
                row.get_attribute("data-state")
                for row in section.find_elements(By.CSS_SELECTOR, "tr[data-wave]")
            ],
            "clusters": {
                row.get_attribute("data-rollout-cluster"): row.get_attribute("data-state")
                for row in section.find_elements(By.CSS_SELECTOR, "tr[data-rollout-cluster]")
            },
            "buttons": [
                b.text for b in section.find_elements(By.CSS_SELECTOR, ".actions button.action")
            ],
            "bake": int(bake.group(1)) if bake else None,
        }
    except (NoSuchElementException, StaleElementReferenceException):
        return {}


def showing(driver: webdriver.Chrome, what: str, **expected: object) -> dict[str, object]:
    """Wait until the page shows the rollout with `expected` (keys of `shown`)."""

    def check() -> dict[str, object] | None:
        now = shown(driver)
        return now if now and all(now.get(k) == v for k, v in expected.items()) else None

    found: dict[str, object] | None = wait_for(check, timeout=60, interval=0.3, what=what)
    assert found is not None
    return found


def rollout(fleet: Fleet, sha: str) -> Rollout | None:
    r: Rollout | None = fleet.store.rollout("shop")
    return r if r is not None and r.revision.sha == sha else None


def test_the_page_shows_the_waves_and_the_bake_and_its_buttons_steer_the_rollout(
    fleet: Fleet, browser: webdriver.Chrome
) -> None:
    browser.get(fleet.url + "/applications/shop")
    wait_for(lambda: text_of(browser, "h1").startswith("shop"), timeout=10, what="the page")
    fleet.repo.write("apps/shop/settings.yaml", configmap("settings", "two"))
    sha = fleet.repo.commit("shop: two")
    # The page, opened before the commit, shows the rollout as it comes, without a reload.
    baking = showing(
        browser,
        "the canary wave baking",
        phase="Baking",
        waves=["baking", "waiting", "waiting"],
        buttons=["Pause", "Promote", "Abort"],
    )
    assert baking["clusters"] == {
        "canary-1": "ready",
        "main-1": "waiting",
        "main-2": "waiting",
        "main-3": "waiting",
    }
    first = baking["bake"]
    assert isinstance(first, int) and 3500 < first <= 3600, first
    assert "of 3600s left" in text_of(browser, "#rollout-summary")

    # The bake's remaining time counts down on the page.
    def bake_now() -> int:
        bake = shown(browser).get("bake")
        return bake if isinstance(bake, int) else first

    wait_for(lambda: bake_now() < first, timeout=20, what="the bake's remaining time going down")
    screenshot(browser, "rollout")

    click(browser, By.ID, "rollout-pause")
    # The first action asks for the API token, then goes on.
    wait_for(
        lambda: browser.find_element(By.ID, "token-dialog").is_displayed(),
        timeout=10,
        what="the token dialog",
    )
    browser.find_element(By.ID, "token-input").send_keys(TOKEN)
    click(browser, By.ID, "token-save")
    showing(browser, "the rollout paused", phase="Paused", buttons=["Resume", "Abort"])
    assert "paused by the operator" in text_of(browser, "#rollout-reason")
    paused = rollout(fleet, sha)
    assert paused is not None and paused.phase is Phase.PAUSED and paused.paused_by == "operator"

    click(browser, By.ID, "rollout-resume")
    showing(browser, "the rollout resumed", phase="Baking", buttons=["Pause", "Promote", "Abort"])

    # Pinned with a reason (the page does not redraw the form while it is typed in): the page
    # says so and offers Unpin instead of the pin form.
    type_into(
        browser, By.CSS_SELECTOR, "#rollout-pin-form input[name=reason]", "watching the canary"
    )
    click(browser, By.ID, "rollout-pin")
    showing(browser, "the rollout pinned", buttons=["Pause", "Promote", "Abort", "Unpin"])
    assert "watching the canary" in text_of(browser, "#rollout-pinned")
    pinned = rollout(fleet, sha)
    assert pinned is not None and pinned.pinned is not None
    assert pinned.pinned.reason == "watching the canary"
    click(browser, By.ID, "rollout-unpin")
    showing(browser, "the rollout unpinned", buttons=["Pause", "Promote", "Abort"])
    assert browser.find_elements(By.ID, "rollout-pin-form")
    unpinned = rollout(fleet, sha)
    assert unpinned is not None and unpinned.pinned is None

    click(browser, By.ID, "rollout-promote")
    # Promoted: the canary's hour of bake is skipped, the second wave is reached and bakes.
    promoted = showing(
        browser, "the second wave baking", phase="Baking", waves=["done", "baking", "waiting"]
    )
    plan = fleet.store.rollout_plan("shop")
    assert plan is not None
    second, last = plan.waves[1].clusters, plan.waves[2].clusters
    assert {c: promoted["clusters"][c] for c in second} == {c: "ready" for c in second}  # type: ignore[index]
    assert [value_on(fleet, c) for c in second] == ["two"] * len(second)
    assert [value_on(fleet, c) for c in last] == ["one"] * len(last)

    click(browser, By.ID, "rollout-abort")
    showing(browser, "the rollout aborted", phase="Aborted", buttons=[])
    wait_for(
        lambda: all(value_on(fleet, c) == "one" for c in CLUSTERS),
        timeout=60,
        what="every cluster the rollout reached back on the first commit",
    )
