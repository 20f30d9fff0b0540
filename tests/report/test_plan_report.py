"""The plan report as a reader sees it: one self-contained page, no literal Markdown, every image shown,
and an interactive frontier whose hover names each design (checked in real Chromium)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from wanka.plan import design_center, load_center
from wanka.report.plan import markdown_report, write_report
from wanka.report.plan_plots import series_styles

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CENTER = {
    "name": "report-test",
    "goals": [
        {
            "id": "pretrain",
            "model": "llama3-70b",
            "tokens": 1.0e12,
            "deadline_days": 30,
            "global_batch_size": 1024,
            "precision": "bf16",
        }
    ],
    "candidates": [
        {"accelerator": "h100-sxm", "available": 4096},
        {"accelerator": "ascend-910b", "available": 8192, "unit_price_usd": 16000},
    ],
    "network": {"options": ["fat-tree"], "radix": 64},
    "counts_per_candidate": 2,
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan-report")
    spec = out / "center.yaml"
    spec.write_text(yaml.safe_dump(CENTER))
    result = design_center(load_center(spec))
    return result, write_report(result, out)


def _browser():
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        if os.environ.get("CI") == "true":
            pytest.fail(
                "Debian chromium + chromium-driver missing (.ci/platform-services.sh installs them)"
            )
        pytest.skip("Debian chromium + chromium-driver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1200,2400",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        o.add_argument(a)
    return webdriver.Chrome(service=Service(DRIVER), options=o)


def test_html_is_self_contained_and_not_scraped_markdown(report):
    result, files = report
    page = Path(files["html"]).read_text()
    assert "<strong>pretrain</strong>" in page
    assert "**" not in page and "![" not in page
    imgs = re.findall(r'<img src="([^"]+)"', page)
    assert len(imgs) == 2 and all(src.startswith("data:image/png;base64,") for src in imgs)
    assert "**pretrain**" in markdown_report(result)  # the Markdown keeps its own syntax


def test_report_in_chromium_shows_every_image_and_no_markdown(report, tmp_path):
    _, files = report
    d = _browser()
    try:
        d.get(Path(files["html"]).as_uri())
        broken = d.execute_script(
            "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length"
        )
        text = d.execute_script("return document.body.innerText")
        assert d.execute_script("return document.images.length") == 2 and broken == 0
        assert "**" not in text and "![" not in text and "Ranked designs" in text
        shot = tmp_path / "report.png"
        d.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000
        d.get(Path(files["frontier_html"]).as_uri())
        hover = d.execute_script(
            "const g = document.querySelector('.plotly-graph-div');"
            "return g && g.data ? g.data.map(t => (t.hovertext || []).join('|')).join('|') : '';"
        )
        assert "h100-sxm" in hover and "accelerators" in hover
        assert "deadline pretrain" in d.execute_script("return document.body.innerText")
    finally:
        d.quit()


def test_series_styles_stay_distinct_for_many_designs():
    for n in (3, 15, 40, 150):
        styles = series_styles([f"s{i}" for i in range(n)])
        assert len(set(styles.values())) == n
