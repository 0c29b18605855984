"""Redraw the site's two screenshots from the running code: the explorer after load with three
demonstrations added (docs/explorer.png) and the top of the report of a `test`-profile
validation (docs/report.png), in Debian's chromium.
Run: .venv/bin/python docs/screenshots.py VALIDATE_OUT   (a folder `bayesmatrix validate` wrote)
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parents[1]))
from tests.server.conftest import start_server

DOCS = Path(__file__).parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main(report: Path) -> None:
    proc, url = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']")
            points = "#icl-chart .scatterlayer .trace:first-of-type .point"
            for n in (1, 2, 3):
                page.click("#add")
                page.wait_for_selector(f"{points}:nth-of-type({n})")
            page.screenshot(path=str(DOCS / "explorer.png"), full_page=True)
            page.goto((report / "report.html").resolve().as_uri())
            page.screenshot(path=str(DOCS / "report.png"))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
