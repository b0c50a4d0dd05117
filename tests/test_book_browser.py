"""The rendered book, opened in headless Chromium (Debian's ``chromium``) with no network.

The book is built by ``make book`` (``make test`` builds it first); this test builds it itself when
``_build/html`` is missing. Each page is served on 127.0.0.1, every request to another host is
refused and recorded, and we check what a reader would see: math typeset by the bundled MathJax,
every image loaded, widgets drawn from their saved state, launch buttons on executed chapters.
Screenshots land in ``_build/screenshots`` for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HTML = REPO / "_build" / "html"
SHOTS = REPO / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install chromium)"),
]
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")


def book_pages() -> list[str]:
    toc = (REPO / "_toc.yml").read_text()
    files = [line.split("file:")[1].strip() for line in toc.splitlines() if "file:" in line]
    root = [line.split("root:")[1].strip() for line in toc.splitlines() if line.startswith("root:")]
    return root + files


def is_notebook(page: str) -> bool:
    return (REPO / f"{page}.ipynb").is_file()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").is_file():
        subprocess.run([str(REPO / "scripts" / "vendor_js.sh")], check=True)
        subprocess.run([sys.executable, "-m", "jupyter_book", "build", str(REPO), "-W", "-n", "--keep-going"],
                       check=True, cwd=REPO)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def open_page(browser, site: str, page: str):
    """Load a page with every non-local request refused; return (page, refused URLs, failed URLs)."""
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    refused, failed = [], []

    def gate(route):
        if route.request.url.startswith(site):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    tab.route("**/*", gate)
    tab.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    tab.goto(f"{site}/{page}.html", wait_until="networkidle")
    # MathJax typesets asynchronously: wait until it says it is done.
    tab.wait_for_function("!window.MathJax || (MathJax.startup && MathJax.startup.promise && true)")
    tab.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    return tab, refused, failed


@pytest.mark.parametrize("page", book_pages())
def test_page_reads_offline(browser, site, page):
    tab, refused, failed = open_page(browser, site, page)
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SHOTS / f"{page.replace('/', '_')}.png"), full_page=True)
        assert refused == [], f"{page} asked for files from the network: {refused[:5]}"
        assert failed == [], f"{page} has missing files: {failed[:5]}"

        # Math: every math node holds typeset output, and no raw TeX delimiters are left in the text.
        untypeset = tab.evaluate("""[...document.querySelectorAll('span.math, div.math')]
            .filter(el => !el.querySelector('mjx-container')).map(el => el.textContent.slice(0, 60))""")
        assert untypeset == [], f"{page}: math left untypeset: {untypeset[:3]}"
        text = tab.evaluate("document.querySelector('main').innerText")
        assert "\\(" not in text and "\\[" not in text, f"{page}: raw TeX delimiters in the page text"

        # Figures: every image has loaded and has a size.
        broken = tab.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert broken == [], f"{page}: images that did not load: {broken}"

        # Error cells or placeholders must not reach the reader.
        assert tab.locator("div.output.traceback, .output .ansi-red-intense-fg").count() == 0, f"{page}: error output"
        assert "TODO" not in text, f"{page}: placeholder text"
        # A matplotlib Figure displayed without the inline backend shows as its repr, not as a plot.
        assert "<Figure size" not in text, f"{page}: a figure printed as text instead of drawn"

        if is_notebook(page):
            hrefs = tab.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
            assert any("colab.research.google.com" in h for h in hrefs), f"{page}: no Colab launch button"
            assert any("mybinder.org" in h for h in hrefs), f"{page}: no Binder launch button"

        # Widgets: where the page saved widget state, the manager draws the controls from it.
        if tab.locator("script[type='application/vnd.jupyter.widget-state+json']").count():
            tab.wait_for_selector(".jupyter-widgets", timeout=15_000)
            drawn = tab.locator(".jupyter-widgets").count()
            assert drawn > 0, f"{page}: saved widgets were not drawn"
    finally:
        tab.close()



def exercise_counts(page: str) -> tuple[int, int]:
    """(solutions, checks) of a chapter: its solution-start directives and its auto-graded check cells."""
    import json

    cells = json.loads((REPO / f"{page}.ipynb").read_text())["cells"]
    src = ["".join(c["source"]) for c in cells]
    solutions = sum(c["cell_type"] == "markdown" and s.lstrip().startswith("```{solution-start") for c, s in zip(cells, src))
    checks = sum("autograded" in c.get("metadata", {}).get("tags", []) for c in cells)
    return solutions, checks


@pytest.mark.parametrize("page", [p for p in book_pages() if is_notebook(p) and exercise_counts(p)[0]])
def test_solutions_and_checks_collapsed(browser, site, page):
    """Every solution (a dropdown) and every check (a hide-cell cell) is collapsed until clicked, in every chapter."""
    n_solutions, n_checks = exercise_counts(page)
    tab, _, _ = open_page(browser, site, page)
    try:
        solutions = tab.locator("div.solution.dropdown")
        assert solutions.count() == n_solutions, f"{page}: {solutions.count()} dropdown solutions, expected {n_solutions}"
        for i in range(n_solutions):
            box = solutions.nth(i)
            content = box.locator("section").first
            assert not content.is_visible(), f"{page}: solution {i + 1} is open before a click"
            box.locator(".admonition-title").first.click()
            content.wait_for(state="visible", timeout=5_000)
        checks = tab.locator("div.cell.tag_autograded")
        assert checks.count() == n_checks, f"{page}: {checks.count()} check cells, expected {n_checks}"
        for i in range(n_checks):
            cell = checks.nth(i)
            code = cell.locator(".cell_input").first
            assert cell.locator("details").count() and not code.is_visible(), f"{page}: check {i + 1} is not collapsed"
            cell.locator("details > summary").first.click()
            code.wait_for(state="visible", timeout=5_000)
    finally:
        tab.close()
