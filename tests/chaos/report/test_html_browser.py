"""report.html in a real headless Chromium (Debian's chromium and chromium-driver, driven by
selenium): it renders with no console error, without the network, one heatmap square per
planned cell, and every chart drawn once its cell is opened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from chaos.report.html.write import write_matrix_report, write_run_report
from tests.chaos.report.synthetic import experiment_run, matrix_run
from tests.conftest import require_binary

INSTALL = "sudo apt-get install chromium chromium-driver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
    "--window-size=1280,1600",
)
WAIT = 30.0  # seconds: a loaded CI machine may take a while to lay out many charts

DRAWN = """
return Array.from(document.querySelectorAll('.chart[data-figure]'))
    .filter(function (c) { return c.querySelector('.main-svg') !== null; })
    .map(function (c) { return c.dataset.figure; });
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Chromium, offline, logging the console and every network request."""
    chromium = require_binary("chromium", INSTALL)
    chromedriver = require_binary("chromedriver", INSTALL)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        yield driver
    finally:
        driver.quit()


def open_report(driver: WebDriver, path: Path) -> None:
    driver.get_log("performance")  # what the browser fetched before is not the page's
    driver.get_log("browser")
    driver.get(path.as_uri())
    WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def console_errors(driver: WebDriver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def requests(driver: WebDriver) -> list[tuple[str, str]]:
    """(document, url) of every request the browser made since the last call."""
    found = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            found.append((params.get("documentURL", ""), params["request"]["url"]))
    return found


def assert_offline(driver: WebDriver, report: Path) -> None:
    """The page loaded nothing but itself and data: URLs, and nothing went to a network."""
    made = requests(driver)
    page = [url for document, url in made if document == report.as_uri()]
    assert report.as_uri() in page  # the log saw the page itself
    assert [u for u in page if not u.startswith(("file:", "data:"))] == []
    remote = ("http:", "https:", "ws:", "wss:", "ftp:")
    assert [u for _, u in made if u.startswith(remote)] == []


def drawn(driver: WebDriver) -> list[str]:
    figures: list[str] = driver.execute_script(DRAWN)
    return figures


def open_every_cell(driver: WebDriver) -> None:
    for summary in driver.find_elements(By.CSS_SELECTOR, "details.cell > summary"):
        driver.execute_script("arguments[0].scrollIntoView()", summary)
        summary.click()


def test_matrix_report_renders_offline_with_every_cell_and_chart(
    browser: WebDriver, tmp_path: Path
) -> None:
    result = matrix_run(tmp_path)
    report = write_matrix_report(result)
    planned = len(result.cells)
    timelines = sum(len(c.attempts) for c in result.verdict.cells) if result.verdict else 0
    assert timelines >= 8

    open_report(browser, report)
    WebDriverWait(browser, WAIT).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#heatmap g.heatmap-label")) == planned
    )
    squares = browser.find_elements(By.CSS_SELECTOR, "#heatmap g.heatmap-label")
    labels = sorted(s.text for s in squares)
    assert labels.count("skip") == 1  # web:latency
    assert labels.count("-") == 3  # web:down, stock:down, web->stock:down: never run
    assert "2/2 ✗" in labels and "= 2/2 ✗" in labels  # pay:latency and its edge
    assert drawn(browser) == ["heatmap"]  # the cells' charts wait until they are opened

    # a click on a square opens that cell's detail and draws its charts
    square = next(s for s in squares if s.text == "2/2 ✗")
    ActionChains(browser).move_to_element(square).click().perform()
    WebDriverWait(browser, WAIT).until(
        lambda d: d.execute_script("return location.hash") == "#cell-pay-latency"
    )
    assert browser.find_element(By.ID, "cell-pay-latency").get_attribute("open") is not None
    WebDriverWait(browser, WAIT).until(lambda d: len(drawn(d)) == 3)  # two attempts

    open_every_cell(browser)
    WebDriverWait(browser, WAIT).until(lambda d: len(drawn(d)) == timelines + 1)
    traces = browser.execute_script(
        "return Array.from(document.querySelectorAll('.chart.timeline'))"
        ".map(function (c) { return c.querySelectorAll('.scatterlayer .trace').length; });"
    )
    assert traces == [6] * timelines  # p95, p50 and errors of both journeys, in every chart
    assert console_errors(browser) == []
    assert_offline(browser, report)


def test_experiment_report_renders_offline(browser: WebDriver, tmp_path: Path) -> None:
    result, experiment, journal = experiment_run(tmp_path)
    report = write_run_report(result, experiment, journal)

    open_report(browser, report)
    WebDriverWait(browser, WAIT).until(lambda d: len(drawn(d)) == 1)  # open from the start
    assert browser.find_elements(By.ID, "heatmap") == []
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.verdicts tbody tr")) == 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "table.callgraph tbody tr")) == 2
    assert console_errors(browser) == []
    assert_offline(browser, report)
