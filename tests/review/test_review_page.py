"""The reviewer's web page in real headless Chromium (Debian's chromium and chromedriver,
driven by Selenium): sign in with a reviewer key, see the queue, claim a case, reveal the
blurred and muted video, decide with the keyboard, and the case leaves the queue."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from cameoguard.db import session_scope
from safety.review.tables import ReviewCase, ReviewDecision
from tests.conftest import IN_CI, make_key
from tests.review.conftest import flagged_item

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(database: str) -> Iterator[str]:
    from assembly.app import create_app

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if IN_CI:
            pytest.fail("CI must run the browser test: install chromium and chromium-driver")
        pytest.skip("needs Debian's chromium and chromium-driver (scripts/test.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_reviewer_works_a_case_in_the_browser(
    live_server: str, browser, clip_bytes: bytes, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    platform = make_key("platform", name="platform")
    reviewer = make_key("reviewer", name="Rae Viewer")
    with httpx.Client(base_url=live_server, timeout=30) as client:
        flagged_item(client, platform, clip_bytes, "it_skipped", harassment=0.7)  # type: ignore[arg-type]
        flagged_item(client, platform, clip_bytes, "it_browser", harassment=0.7)  # type: ignore[arg-type]

    wait = WebDriverWait(browser, 20)
    browser.get(f"{live_server}/review")
    browser.find_element(By.ID, "key").send_keys(reviewer)
    browser.find_element(By.ID, "signin-button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "app")))
    assert "Rae Viewer" in browser.find_element(By.ID, "who").text
    wait.until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, '[data-queue="general"] .open'), "2")
    )

    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("n")  # claim the next case: the more urgent one, which this reviewer skips
    wait.until(ec.visibility_of_element_located((By.ID, "case")))
    assert "it_skipped" in browser.find_element(By.ID, "case-id").text
    body.send_keys("x")
    wait.until(ec.text_to_be_present_in_element((By.ID, "empty"), "Skipped"))
    body.send_keys("n")  # the skipped case goes behind the others for this reviewer
    wait.until(ec.visibility_of_element_located((By.ID, "case")))
    assert "it_browser" in browser.find_element(By.ID, "case-id").text
    assert "harassment risk 0.70" in browser.find_element(By.ID, "reasons").text
    scores = browser.find_element(By.ID, "scores").text
    assert "Risk" in scores and "70%" in scores  # as a reviewer reads it
    assert "{" not in scores and "-1" not in scores and "0.700" not in scores
    browser.set_window_size(1280, 720)  # a laptop screen: the decision buttons are on it
    for element in ("decide", "reason-code", "release"):
        assert browser.execute_script(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;",
            element,
        ), element
    video = browser.find_element(By.ID, "video")
    wait.until(lambda _: video.get_attribute("src"))  # fetched with the key, as a blob
    assert "blurred" in video.get_attribute("class")
    assert browser.execute_script("return arguments[0].muted", video) is True

    browser.find_element(By.ID, "reveal").click()
    assert "blurred" not in video.get_attribute("class")
    assert browser.execute_script("return arguments[0].muted", video) is False
    browser.find_element(By.ID, "gray").click()
    assert "gray" in browser.find_element(By.TAG_NAME, "body").get_attribute("class")
    browser.save_screenshot(str(tmp_path / "review-page.png"))

    body.send_keys("r")  # remove
    wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '#reason-code option[value="harassment"]')
    )
    assert browser.find_element(By.ID, "reason-code").get_attribute("value") == ""
    body.send_keys(Keys.ENTER)  # no reason chosen: nothing is decided
    wait.until(ec.text_to_be_present_in_element((By.ID, "message"), "Choose a reason"))
    with session_scope() as session:
        assert session.scalar(select(ReviewDecision.id)) is None
    browser.find_element(By.CSS_SELECTOR, '#reason-code option[value="harassment"]').click()
    browser.find_element(By.ID, "note").send_keys("mocks a classmate")
    browser.find_element(By.ID, "reason-code").send_keys(Keys.ENTER)
    wait.until(ec.text_to_be_present_in_element((By.ID, "empty"), "Decided: remove"))
    wait.until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, '[data-queue="general"] .open'), "1")
    )
    wait.until(ec.text_to_be_present_in_element((By.ID, "history"), "harassment"))

    with session_scope() as session:
        case = session.scalar(select(ReviewCase).where(ReviewCase.item_id == "it_browser"))
    assert case is not None and case.status == "decided"
    screenshot = tmp_path / "review-page.png"
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
