"""Acceptance 13 in a real browser (Debian chromium + chromium-driver through Selenium, explicit
paths, headless): log in, submit a job with the form, watch it reach succeeded on the Slurm
executor; the other tenant's dashboard does not show it."""

from __future__ import annotations

import os
import shutil

import pytest
from platform_engines import Server, slurm_config

from wanka.platform.store import init_store

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _browser():
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        msg = "Debian chromium + chromium-driver not installed (.ci/platform-services.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
    ):
        o.add_argument(a)
    return webdriver.Chrome(service=Service(DRIVER), options=o)


def _login(d, base: str, token: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d.delete_all_cookies()
    d.get(base + "/ui/login")
    d.find_element(By.ID, "token").send_keys(token)
    d.find_element(By.ID, "login").click()
    # the click only starts the POST; wait for its answer (the error or the jobs page)
    # so the next get() does not race the cookie being set
    WebDriverWait(d, 30, 0.2).until(
        lambda b: b.find_elements(By.ID, "error") or b.current_url.endswith("/ui/jobs")
    )


@pytest.mark.browser
@pytest.mark.slurm
def test_dashboard_submit_and_watch(tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    cfg = slurm_config()
    url = f"sqlite:///{tmp_path}/p.db"
    admin = init_store(url)
    srv = Server(url, tmp_path)
    srv.start()
    d = _browser()
    try:
        body = {
            "name": "slurm",
            "accelerator": "h100-sxm",
            "accelerators": 4,
            "executor": "slurm",
            "executor_config": cfg,
            "price_per_accel_hour": 2.0,
        }
        assert srv.call("POST", "/pools", admin, body)[0] == 201
        toks = {}
        for name in ("alpha", "beta"):
            t = srv.call("POST", "/tenants", admin, {"name": name})[1]
            toks[name] = srv.call("POST", f"/tenants/{t['id']}/tokens", admin, {})[1]["token"]
            srv.call(
                "PUT", f"/tenants/{t['id']}/quotas", admin, {"pool": "slurm", "accelerators": 2}
            )
        d.get(srv.base + "/ui/jobs")
        assert "API token" in d.page_source  # not logged in: the login form
        _login(d, srv.base, "wrong")
        assert d.find_element(By.ID, "error").text == "invalid token"
        _login(d, srv.base, toks["alpha"])
        d.find_element(By.ID, "f-name").send_keys("from-the-browser")
        Select(d.find_element(By.ID, "f-pool")).select_by_visible_text("slurm")
        d.find_element(By.ID, "f-cmd").send_keys("sleep 1; echo hello")
        d.find_element(By.ID, "f-submit").click()
        row = (
            "//table[@id='jobs']//tr[td/a[text()='from-the-browser']]/td[contains(@class,'state')]"
        )
        WebDriverWait(d, 90, 0.5).until(lambda b: b.find_element(By.XPATH, row).text == "succeeded")
        d.find_element(By.LINK_TEXT, "from-the-browser").click()
        WebDriverWait(d, 10).until(lambda b: "hello" in b.find_element(By.ID, "logs").text)
        d.find_element(By.ID, "nav-usage").click()
        WebDriverWait(d, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, "svg.chart rect"))
        d.find_element(By.ID, "nav-quotas").click()
        WebDriverWait(d, 30).until(lambda b: "alpha" in b.find_element(By.ID, "quotas").text)
        d.save_screenshot(str(tmp_path / "usage.png"))
        _login(d, srv.base, toks["beta"])
        assert "from-the-browser" not in d.find_element(By.ID, "jobs").text
        d.get(srv.base + "/ui/admin")
        assert "admin token" in d.page_source
        _login(d, srv.base, admin)
        d.get(srv.base + "/ui/admin")
        WebDriverWait(d, 30).until(lambda b: "up" in b.find_element(By.ID, "pools").text)
    finally:
        d.quit()
        srv.stop()
