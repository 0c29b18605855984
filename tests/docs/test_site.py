"""The documentation site: built strictly from docs/ (the claim pages from the registry), and
opened from disk in a real chromium without one request outside its folder."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bayesmatrix.claims.registry import list_claims

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def build(config: Path, out: Path, example: Path) -> subprocess.CompletedProcess[str]:
    """mkdocs build --strict, the claim pages' examples read from `example` (the session's
    test-profile run, as docs/hooks.py reads any)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "BAYESMATRIX_DOCS_EXAMPLE": str(example)}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(out)],
        capture_output=True, text=True, cwd=config.parent, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def example(test_profile_run) -> Path:
    return test_profile_run[0]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, example: Path) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = build(ROOT / "mkdocs.yml", out, example)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_every_registered_claim_has_a_page_with_its_rule_and_command(site):
    claims = list_claims()
    index = html.unescape((site / "claims" / "index.html").read_text())
    for claim in claims:
        marked = (site / "claims" / f"{claim.name}.html").read_text()
        page = html.unescape(re.sub(r"<[^>]+>", "", marked))
        assert claim.title in page and claim.title in index
        profile = "quick" if "quick" in claim.profiles else "full"
        assert claim.reproduce(["smollm2-135m"], profile, claim.profiles[profile]) in page
        for key in claim.settings:
            assert f"<code>{key}</code>" in marked


def test_claim_pages_show_the_test_profiles_result_and_measured_times(site, example):
    from bayesmatrix.results.records import load_records
    from bayesmatrix.results.times import claim_seconds

    records = load_records(example)
    for claim in list_claims():
        page = html.unescape(
            re.sub(r"<[^>]+>", "", (site / "claims" / f"{claim.name}.html").read_text())
        )
        mine = [r for r in records if r.claim == claim.name]
        assert mine, claim.name  # every claim has a test profile and ran in it
        assert all(r.sentence in page for r in mine), claim.name
        if list((example / "test" / claim.name).glob("*.png")):
            assert (site / "claims" / f"{claim.name}-example.png").read_bytes()[:4] == b"\x89PNG"
        seconds = claim_seconds(claim.name, "quick")
        if seconds is not None:
            assert "quick " in page.split("Time on SmolLM2-135M")[1].split("\n")[0]


def test_a_broken_link_fails_the_strict_build(tmp_path, example):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    broken = "# Concepts\n\nSee [nowhere](no-such-page.md).\n"
    (tmp_path / "docs" / "concepts.md").write_text(broken)
    proc = build(tmp_path / "mkdocs.yml", tmp_path / "site", example)
    assert proc.returncode != 0 and "no-such-page.md" in proc.stderr


def test_the_home_page_is_readme_with_its_links_kept(site):
    """One text for both: README's sections on the home page, its docs/ links resolved."""
    home = html.unescape((site / "index.html").read_text())
    headings = [line[3:] for line in (ROOT / "README.md").read_text().splitlines()
                if line.startswith("## ")]  # fmt: skip
    assert headings and all(h in home for h in headings)
    assert 'href="getting-started.html"' in home and 'href="docs/' not in home
    notebooks = sorted(p.name for p in (ROOT / "examples").glob("*.ipynb"))
    assert notebooks and all(f'href="examples/{name}"' in home for name in notebooks)
    for name in notebooks:  # the site carries them, so the links work offline
        assert (site / "examples" / name).read_bytes() == (ROOT / "examples" / name).read_bytes()


def test_the_site_opens_from_disk_without_a_request_outside_its_folder(site):
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is missing: `apt-get install -y chromium` (make test does)")
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto((site / "index.html").as_uri())
        assert "bayesmatrix" in page.title()
        # search runs from disk: its worker in an iframe, the index inlined as a script
        page.locator("input.md-search__input").click()
        page.locator("input.md-search__input").type("martingale")
        page.wait_for_selector(".md-search-result__item")
        found = page.locator(".md-search-result").inner_text()
        assert "In-context predictives as martingales" in found
        page.keyboard.press("Escape")
        # the home page's own link (a bare "text=Concepts" can hit a search result's
        # "concepts.html#..." link instead, which never loads concepts.html itself)
        page.locator("article a[href='concepts.html']").first.click()
        page.wait_for_url("**/concepts.html")
        assert page.locator("h1").first.inner_text().startswith("Concepts")
        page.goto((site / "claims" / "index.html").as_uri())
        page.click("text=coin-flips")
        page.wait_for_url("**/claims/coin-flips.html")
        assert page.locator("table").count() >= 1
        page.goto((site / "api.html").as_uri())
        assert page.locator(".doc-object").count() > 3  # mkdocstrings rendered the API
        browser.close()
    outside = [u for u in requests if not u.startswith(site.as_uri())]
    assert not outside, outside
    assert len(requests) > 10  # pages, styles and scripts were loaded from the folder
