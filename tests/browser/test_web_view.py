"""The web view in a real browser against a real `fleetsync up`: the matrix shows what
`fleetsync status` shows, an operator's action changes state, a broken render shows its error,
and the pages update live without a reload."""

from __future__ import annotations

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By

from tests.browser.conftest import TOKEN, Fleet, click, configmap, enter_token, screenshot
from tests.support.waiting import wait_for

PAIRS = {("shop", "eu-1"), ("shop", "eu-2"), ("shop", "us-1"), ("audit", "eu-1"), ("audit", "eu-2")}


def text_of(driver: webdriver.Chrome, css: str) -> str:
    try:
        return str(driver.find_element(By.CSS_SELECTOR, css).text)
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def matrix_cells(driver: webdriver.Chrome) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(application, cluster) -> (sync, health, hover text) as the page shows them."""
    try:
        table = driver.find_element(By.ID, "matrix")
        clusters = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th.col")]
        cells = {}
        for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
            app = row.get_attribute("data-app") or ""
            for cluster, cell in zip(
                clusters, row.find_elements(By.CSS_SELECTOR, "td.cell"), strict=True
            ):
                if cell.get_attribute("data-sync"):
                    cells[(app, cluster)] = (
                        cell.get_attribute("data-sync") or "",
                        cell.get_attribute("data-health") or "",
                        cell.get_attribute("title") or "",
                    )
        return cells
    except (NoSuchElementException, StaleElementReferenceException):
        return {}


def converged(fleet: Fleet) -> list[dict[str, object]]:
    rows = fleet.status()
    done = len(rows) == len(PAIRS) and all(
        (r["sync"], r["health"]) == ("Synced", "Healthy") for r in rows
    )
    return rows if done else []


def test_the_matrix_shows_the_states_fleetsync_status_shows(
    fleet: Fleet, browser: webdriver.Chrome
) -> None:
    browser.get(fleet.url + "/")
    rows = wait_for(lambda: converged(fleet), timeout=60, interval=0.5, what="the fleet converged")
    expected = {(str(r["application"]), str(r["cluster"])): r for r in rows}
    assert set(expected) == PAIRS

    def shown() -> bool:
        cells = matrix_cells(browser)
        return set(cells) == PAIRS and all(
            cells[p][:2] == (expected[p]["sync"], expected[p]["health"]) for p in PAIRS
        )

    # The page was opened before the fleet converged: it updates live, without a reload.
    wait_for(shown, timeout=20, interval=0.3, what="the matrix matching `fleetsync status`")
    cells = wait_for(
        lambda: (c := matrix_cells(browser)) and set(c) == PAIRS and c,
        timeout=10,
        what="the matrix read whole",
    )
    for pair, (_, _, hover) in cells.items():
        assert str(expected[pair]["revision"]) in hover, hover
    # The counts are drawn by the same live update, possibly a moment after the matrix.
    counts = (
        '#counts [data-kind="sync"][data-state="Synced"] b',
        '#counts [data-kind="health"][data-state="Healthy"] b',
    )
    wait_for(
        lambda: [text_of(browser, css) for css in counts] == ["5", "5"],
        timeout=10,
        what="5 Synced and 5 Healthy counted",
    )
    screenshot(browser, "fleet")

    browser.get(fleet.url + "/?selector=region%3Dus")
    wait_for(
        lambda: set(matrix_cells(browser)) == {("shop", "us-1")},
        timeout=10,
        what="the label filter keeping us-1 only",
    )
    browser.get(fleet.url + "/?selector=region+in+(eu")
    wait_for(
        lambda: "unbalanced parentheses" in text_of(browser, "#page-error"),
        timeout=10,
        what="the selector's error on the page",
    )


def test_an_operator_suspends_and_resumes_with_the_token_entered_once(
    fleet: Fleet, browser: webdriver.Chrome
) -> None:
    browser.get(fleet.url + "/applications/audit")
    wait_for(lambda: text_of(browser, "h1").startswith("audit"), timeout=10, what="the page")
    click(browser, By.XPATH, "//button[text()='Suspend']")
    # Refused without a token: the page asks for it, keeps it for the tab, and carries on.
    wait_for(
        lambda: browser.find_element(By.ID, "token-dialog").is_displayed(),
        timeout=10,
        what="the token dialog",
    )
    browser.find_element(By.ID, "token-input").send_keys(TOKEN)
    click(browser, By.ID, "token-save")
    wait_for(lambda: fleet.store.is_suspended("audit"), timeout=10, what="audit suspended")
    wait_for(
        lambda: "suspended" in text_of(browser, "h1"),
        timeout=10,
        what="the page showing the suspension live",
    )
    # The live update that shows the suspension may land before the POST's answer is shown.
    wait_for(
        lambda: "accepted (200)" in text_of(browser, "#flash-message"),
        timeout=10,
        what="the suspend's answer in the flash message",
    )
    assert browser.execute_script("return sessionStorage.getItem('fleetsync.token')") == TOKEN
    assert text_of(browser, "#token-state") == "token set"
    assert fleet.cli("status", "audit", "-o", "json").returncode == 0
    assert '"suspended": true' in fleet.cli("status", "audit", "-o", "json").stdout

    click(browser, By.XPATH, "//button[text()='Resume']")
    wait_for(lambda: not fleet.store.is_suspended("audit"), timeout=10, what="audit resumed")
    wait_for(
        lambda: "Suspend" in text_of(browser, ".actions"),
        timeout=10,
        what="the Suspend button back",
    )


def test_a_broken_render_shows_its_error_and_the_cluster_page_its_objects(
    fleet: Fleet, browser: webdriver.Chrome
) -> None:
    browser.get(fleet.url + "/applications/shop/clusters/eu-1")
    wait_for(
        lambda: "settings" in text_of(browser, "#objects"),
        timeout=20,
        what="the objects read from the cluster",
    )
    assert "in sync" in text_of(browser, "#objects-summary")
    screenshot(browser, "pair")

    browser.get(fleet.url + "/applications/shop")
    wait_for(lambda: "ok" in text_of(browser, "#render-status"), timeout=10, what="render ok")
    enter_token(browser)  # Refresh is an action: it needs the token
    fleet.repo.write("apps/shop/broken.yaml", "kind: ConfigMap\nmetadata: [unclosed\n")
    fleet.repo.write("apps/shop/settings.yaml", configmap("settings", "two"))
    fleet.repo.commit("a broken manifest")
    click(browser, By.XPATH, "//button[text()='Refresh']")
    error = wait_for(
        lambda: text_of(browser, "#source-error"),
        timeout=30,
        interval=0.3,
        what="the render error on the page, without a reload",
    )
    assert "broken.yaml" in error
    screenshot(browser, "application")
    # The last good state carries on: every cluster is still Synced at the previous commit.
    assert all(r["sync"] == "Synced" for r in fleet.status() if r["application"] == "shop")

    fleet.repo.remove("apps/shop/broken.yaml")
    fleet.repo.commit("fixed")
    click(browser, By.XPATH, "//button[text()='Refresh']")
    wait_for(
        lambda: "ok" in text_of(browser, "#render-status"),
        timeout=30,
        interval=0.3,
        what="the error cleared once the commit is fixed",
    )
