"""The main journey in Debian's chromium (Selenium, headless) against a real `icm serve`.

A rep signs in, opens a statement and raises an inquiry; finance accepts it as an
adjustment, re-runs and submits the month; an approver approves and the month closes.
A screenshot of each main page goes to ICM_SCREENSHOTS (default: the test's tmp dir).
Skips without chromium/chromedriver, except under CI=true where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from compensation import cycle
from tests.web.conftest import PASSWORD, USERS, make_workspace, start_server, stop_server

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser():
    if not (Path(CHROMEDRIVER).exists() and Path(CHROMIUM).exists()):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
        pytest.skip("chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000",
                "--disable-gpu", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(180)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_month_closes_in_the_browser(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    shots = Path(os.environ.get("ICM_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    server = start_server(make_workspace(tmp_path / "ws"), tmp_path / "serve.log")
    b = browser
    try:
        def go(path):
            b.get(server.url + path)

        def wait_for(text):
            WebDriverWait(b, 180).until(lambda d: text in d.page_source)

        def shot(name):
            b.save_screenshot(str(shots / f"{name}.png"))

        def sign_in(role):
            b.delete_all_cookies()
            go("/login")
            if role == "rep":
                shot("login")
            b.find_element(By.NAME, "email").send_keys(USERS[role][0])
            b.find_element(By.NAME, "password").send_keys(PASSWORD)
            b.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait_for("Sign out")

        # the rep: her months, a statement, the trace, her plan, what-if, an inquiry
        sign_in("rep")
        assert "Ada Rossi" in b.find_element(By.TAG_NAME, "h1").text
        shot("rep-home")
        b.find_element(By.LINK_TEXT, "January 2026").click()
        wait_for("January 2026 statement")
        assert "January 2026 statement" in b.find_element(By.TAG_NAME, "h1").text
        shot("statement")
        b.find_element(By.LINK_TEXT, "How it was calculated").click()
        wait_for("The full trace")
        shot("explain")
        go("/reps/A01/plan")
        shot("plan")
        b.find_element(By.ID, "accept").click()
        wait_for("Accepted")
        go("/reps/A01/whatif")
        b.find_element(By.NAME, "amount").send_keys("40000")
        b.find_element(By.NAME, "date").send_keys("02/20/2026")
        b.find_element(By.ID, "price").click()
        wait_for("Paid with it")
        shot("whatif")
        go("/reps/A01/periods/2026-01")
        b.find_element(By.ID, "ask").click()
        wait_for("What looks wrong?")
        Select(b.find_element(By.NAME, "category")).select_by_value("missing credit")
        b.find_element(By.NAME, "amount").send_keys("925.10")
        b.find_element(By.NAME, "text").send_keys("T002 was a solo deal: please credit it at 100%.")
        b.find_element(By.ID, "send").click()
        wait_for('id="status"')
        assert "Submitted" in b.find_element(By.ID, "status").text
        number = b.current_url.rsplit("/", 1)[1]

        # finance accepts it as an adjustment, re-runs February and submits it
        sign_in("finance")
        go("/inquiries")
        shot("inquiry-queue")
        go(f"/inquiries/{number}")
        b.find_element(By.NAME, "text").send_keys("Confirmed with sales ops: adjustment in February.")
        Select(b.find_element(By.ID, "move")).select_by_value("resolved")
        Select(b.find_element(By.NAME, "resolution")).select_by_value("accepted")
        b.find_element(By.NAME, "adjustment").send_keys("925.10")
        b.find_element(By.ID, "reply").click()
        wait_for("Resolved · accepted")
        shot("inquiry")
        go("/periods/2026-02")
        b.find_element(By.XPATH, "//button[text()='Run again']").click()
        wait_for("calculated and stored")
        b.find_element(By.NAME, "rep").send_keys("carla")  # htmx filters the register in place
        wait_for("3 lines")
        assert "Ada Rossi" not in b.find_element(By.ID, "register").text
        b.find_element(By.ID, "submit").click()
        wait_for("Submitted for approval")
        shot("month-review")
        go("/periods")
        shot("months")

        # a different person approves: the month closes and statements go out
        sign_in("approver")
        go("/periods/2026-02")
        b.find_element(By.ID, "approve").click()
        wait_for("The month is closed")
        go("/audit")
        shot("audit")
        with cycle.open_ledger(server.workspace) as led:
            assert led.latest_run("2026-02").status == "closed"
        sign_in("rep")
        go("/reps/A01/periods/2026-02")
        wait_for("Confirmed with sales ops")
    finally:
        stop_server(server)
