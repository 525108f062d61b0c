"""The web page in a real browser: headless Debian Chromium through Selenium and chromedriver,
against the app served by uvicorn on 127.0.0.1 with the deterministic fakes of rag/testing.py.

One person's flow (sign in, upload, ask, open the citation, a follow-up, a question the
documents do not cover, delete), and a second key without the group that sees nothing of it.
Screenshots at phone and laptop widths go to tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from api.app import create_app
from api.auth.keys import KeyStore
from rag.container import Container
from rag.settings import AuthSettings, ProxyAuthSettings, Settings
from rag.testing import EchoGenerator, HashingEmbedder
from tests.serving import serving

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
WAIT_S = 60  # a shared, loaded machine: generous, and only ever an upper bound
PHONE = (390, 844)
LAPTOP = (1366, 768)
LEAVE = "# Leave\n\nFull-time staff receive 28 days of annual leave.\n"

_CITE = {"n": 1, "source": "/data/uploads/j/leave.md", "page": None, "doc_id": "x", "text": LEAVE}
UNSUPPORTED = [
    {"role": "user", "content": "How much leave?"},
    {
        "role": "assistant",
        "content": "Full-time staff receive 28 days [1]. Part-time staff get 40 days.",
        "answer": {
            "answer": "Full-time staff receive 28 days [1]. Part-time staff get 40 days.",
            "covered": True,
            "grounded": False,
            "citations": [{**_CITE, "quote": "Full-time staff receive 28 days of annual leave."}],
            "sentences": [
                {"text": "Full-time staff receive 28 days", "supported": True, "kind": "claim"},
                {"text": "Part-time staff get 40 days", "supported": False, "kind": "claim"},
            ],
        },
    },
]


class Site:
    """The served app: its URL and three keys (admin, hr writer, finance writer)."""

    def __init__(self, url: str, admin: str, hr: str, finance: str) -> None:
        self.url, self.admin, self.hr, self.finance = url, admin, hr, finance


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    container = Container(
        Settings(data_dir=tmp_path_factory.mktemp("web-browser-data")),
        embedder=HashingEmbedder(),
        generator=EchoGenerator(),
    )
    keys = KeyStore(container.settings.auth_path)
    made = [
        keys.create("admin", scopes=["admin"]).key,
        keys.create("hr", groups=["hr"], scopes=["read", "write"]).key,
        keys.create("finance", groups=["finance"], scopes=["read", "write"]).key,
    ]
    with serving(create_app(container, load_in_background=False)) as url:
        yield Site(url, *(str(k) for k in made))


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={LAPTOP[0]},{LAPTOP[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, WAIT_S)


def _visible(driver: WebDriver, css: str) -> WebElement:
    found: WebElement = _wait(driver).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, css))
    )
    return found


def _sign_in(driver: WebDriver, site: Site, key: str) -> None:
    driver.get(site.url + "/")
    field = _visible(driver, "#api-key")
    field.send_keys(key, Keys.ENTER)
    _visible(driver, "#ask")


def _sign_out(driver: WebDriver) -> None:
    driver.find_element(By.ID, "sign-out").click()
    _visible(driver, "#api-key")


def _ask(driver: WebDriver, question: str) -> WebElement:
    """Ask and wait for the finished answer (the last turn, no longer streaming)."""
    turns = len(driver.find_elements(By.CSS_SELECTOR, ".turn.assistant:not(.streaming)"))
    driver.find_element(By.ID, "question").send_keys(question, Keys.ENTER)
    _wait(driver).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".turn.assistant:not(.streaming)")) > turns
    )
    return driver.find_elements(By.CSS_SELECTOR, ".turn.assistant")[-1]


def _rows(driver: WebDriver) -> list[str]:
    """The file names listed (read in one script: the list may be redrawn meanwhile)."""
    names = driver.execute_script(
        "return [...document.querySelectorAll('#doc-rows td.name')].map(e => e.textContent)"
    )
    return [str(n) for n in names]


def _screenshots(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for label, (width, height) in (("phone", PHONE), ("laptop", LAPTOP)):
        driver.set_window_size(width, height)
        # readable at this width: nothing wider than the window
        _wait(driver).until(
            lambda d: (
                d.execute_script("return document.documentElement.scrollWidth")
                <= d.execute_script("return window.innerWidth")
            )
        )
        path = ARTIFACTS / f"web-{name}-{label}.png"
        assert driver.save_screenshot(str(path)) and path.stat().st_size > 0
    driver.set_window_size(*LAPTOP)


def _background(driver: WebDriver) -> str:
    return str(driver.execute_script("return getComputedStyle(document.body).backgroundColor"))


def test_a_person_asks_reads_the_source_and_manages_documents(
    site: Site, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    driver = browser
    driver.get(site.url + "/")
    _visible(driver, "#api-key").send_keys("rsk_not-a-key", Keys.ENTER)
    assert "not accepted" in _visible(driver, "#signin-error").text
    assert driver.find_element(By.ID, "ask").is_displayed() is False

    _sign_in(driver, site, site.hr)
    assert site.hr not in driver.current_url
    assert driver.execute_script("return sessionStorage.getItem('ragstead.key')") == site.hr
    assert driver.execute_script("return localStorage.length") == 0
    options = Select(driver.find_element(By.ID, "collection")).options
    assert [o.get_attribute("value") for o in options] == ["default"]

    # Upload: the job's per-file result, then the list.
    leave = tmp_path / "leave.md"
    leave.write_text(LEAVE)
    driver.find_element(By.ID, "tab-docs").click()
    driver.find_element(By.ID, "upload-groups").send_keys("hr")
    driver.find_element(By.ID, "files").send_keys(str(leave))
    job = _visible(driver, "#uploads li.upload[data-status]")
    assert job.get_attribute("data-status") == "succeeded", job.text
    assert "leave.md: succeeded" in job.text
    _wait(driver).until(lambda d: "leave.md" in _rows(d))
    row = driver.find_element(By.CSS_SELECTOR, "#doc-rows tr[data-id]")
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[:5] == ["leave.md", "indexed", "", "1", "hr"], cells
    _screenshots(driver, "documents")

    # Ask: a streamed, cited answer.
    driver.find_element(By.ID, "tab-ask").click()
    Select(driver.find_element(By.ID, "mode")).select_by_value("generative")
    answer = _ask(driver, "How many days of annual leave do full-time staff get?")
    assert "28 days" in answer.text
    assert int(answer.get_attribute("data-tokens") or 0) > 1, "the answer was not streamed"
    sources = answer.find_elements(By.CSS_SELECTOR, ".sources button")
    assert sources and "leave.md" in sources[0].text
    marker = answer.find_element(By.CSS_SELECTOR, ".marker")
    assert marker.text == "[1]"

    # Open the citation: the passage, its quoted sentence highlighted, the original as a blob.
    marker.send_keys(Keys.ENTER)  # keyboard, not only the mouse
    passage = _visible(driver, "#passage")
    assert "28 days" in passage.find_element(By.TAG_NAME, "mark").text
    link = _visible(driver, "#passage-open")
    assert (link.get_attribute("href") or "").startswith("blob:")
    _screenshots(driver, "answer")

    # A type filter that matches no document: not covered.
    driver.find_element(By.CSS_SELECTOR, "#filters summary").click()
    Select(driver.find_element(By.ID, "filter-type")).select_by_value("pdf")
    filtered = _ask(driver, "How many days of annual leave do full-time staff get?")
    assert filtered.find_elements(By.CSS_SELECTOR, ".not-covered"), filtered.text
    Select(driver.find_element(By.ID, "filter-type")).select_by_value("")

    # The thread survives a reload, and a follow-up goes on in it.
    driver.refresh()
    _visible(driver, "#ask")
    assert "28 days" in driver.find_element(By.ID, "thread").text
    follow = _ask(driver, "and for full-time staff in the office?")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#thread .turn.user")) == 3
    assert follow.find_elements(By.CSS_SELECTOR, ".answer-text, .not-covered")

    # An unsupported sentence is marked inside the answer (a stored thread, redrawn on load).
    driver.execute_script(
        "sessionStorage.setItem('ragstead.thread', JSON.stringify(arguments[0]))", UNSUPPORTED
    )
    driver.refresh()
    flagged = _visible(driver, "#thread .unsupported")
    assert flagged.text == "Part-time staff get 40 days"
    assert "not supported" in driver.find_element(By.CSS_SELECTOR, ".unsupported-note").text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#thread .unsupported")) == 1

    # A new thread; a question the documents do not cover is said to be so.
    driver.find_element(By.ID, "new-thread").click()
    _wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#thread .turn"))
    outside = _ask(driver, "Which zebra plays the xylophone at quantum parties?")
    assert outside.find_element(By.CSS_SELECTOR, ".not-covered").text.startswith(
        "The documents do not cover"
    )
    assert not outside.find_elements(By.CSS_SELECTOR, ".sources")
    _screenshots(driver, "not-covered")
    light = _background(driver)
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    assert _background(driver) != light, "no dark scheme"
    _screenshots(driver, "dark")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    # A second key without the group sees nothing of the file.
    _sign_out(driver)
    assert driver.execute_script("return sessionStorage.length") == 0
    _sign_in(driver, site, site.finance)
    assert not driver.find_elements(By.CSS_SELECTOR, "#thread .turn")
    driver.find_element(By.ID, "tab-docs").click()
    _wait(driver).until(lambda d: "No documents." in d.find_element(By.ID, "doc-rows").text)
    _sign_out(driver)

    # Delete, with confirmation; the list and the API agree it is gone.
    _sign_in(driver, site, site.hr)
    driver.find_element(By.ID, "tab-docs").click()
    _wait(driver).until(lambda d: "leave.md" in _rows(d))
    driver.find_element(By.CSS_SELECTOR, "#doc-rows button.delete").click()
    _wait(driver).until(ec.alert_is_present()).accept()
    _wait(driver).until(lambda d: "leave.md" not in _rows(d))
    listed = httpx.get(
        site.url + "/v1/documents", headers={"Authorization": f"Bearer {site.admin}"}
    ).json()
    assert listed["documents"] == []

    refused = [
        e["message"]
        for e in driver.get_log("browser")
        if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
    ]
    assert not refused


def test_with_authentication_off_on_loopback_the_page_needs_no_key(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    container = Container(
        Settings(data_dir=tmp_path / "open", auth=AuthSettings(enabled=False)),
        embedder=HashingEmbedder(),
        generator=EchoGenerator(),
    )
    with serving(create_app(container, load_in_background=False)) as url:
        browser.get(url + "/")
        _visible(browser, "#ask")
        assert not browser.find_element(By.ID, "signin").is_displayed()
        assert not browser.find_element(By.ID, "sign-out").is_displayed()
        assert browser.execute_script("return sessionStorage.getItem('ragstead.key')") is None


def test_behind_a_trusted_proxy_the_page_arrives_signed_in_and_uploads(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    proxy = ProxyAuthSettings(enabled=True, trusted=["127.0.0.1"], scopes=["read", "write"])
    container = Container(
        Settings(data_dir=tmp_path / "proxied", auth=AuthSettings(proxy=proxy)),
        embedder=HashingEmbedder(),
        generator=EchoGenerator(),
    )
    note = tmp_path / "canteen.md"
    note.write_text("# Canteen\n\nThe canteen serves lunch from noon.\n")
    # what oauth2-proxy would add to every request it forwards
    identity = {"X-Forwarded-User": "alice@corp", "X-Forwarded-Groups": "hr"}
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": identity})
    try:
        with serving(create_app(container, load_in_background=False)) as url:
            browser.get(url + "/")
            _visible(browser, "#ask")
            assert not browser.find_element(By.ID, "signin").is_displayed()
            browser.find_element(By.ID, "tab-docs").click()
            browser.find_element(By.ID, "files").send_keys(str(note))
            job = _visible(browser, "#uploads li.upload[data-status]")
            assert job.get_attribute("data-status") == "succeeded", job.text
            _wait(browser).until(lambda d: "canteen.md" in _rows(d))
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
