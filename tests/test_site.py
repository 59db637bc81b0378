"""The course website (``python -m utils.site``) built, then read page by page in headless Chromium.

The site is built once (into ``build/site``, git-ignored) and served from a local HTTP server on the
loopback address; Playwright drives Debian's ``chromium`` (``apt-get install chromium``), found on
the PATH or given by ``DLF_CHROMIUM`` -- never a browser downloaded by Playwright. Every request
for anything outside the site is refused and counted: the site must work offline, MathJax included.
Over **every** page: no console error and no uncaught exception, every math element typeset by
MathJax (no ``$$`` or TeX error left), every image loaded (natural width > 0), every internal link
pointing at an existing file and anchor. Then: the search finds "backpropagation" and "beam
search", chapters come in course order with previous/next links, each notebook page has its Colab
badge and a download link to the committed ``.ipynb``, hidden solutions are collapsed, chapter
pages keep their results table and review questions, and one screenshot per chapter is saved in
``build/site/screenshots`` for review. Timings and counts go to ``build/site/report.json``.

Without Chromium (or Playwright, or Sphinx) the tests are skipped with the reason locally and FAIL
under ``CI=true``, where ``.ci/run`` installs them.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from utils import config, layout, site

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
OUT = site.BUILD
SHOTS = OUT / "screenshots"

#: Read in the page after MathJax has finished: math, images, links, anchors, navigation, solutions.
_INSPECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const imgs = [...document.images];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
    i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 30000); })));
  const skip = 'pre, code, script, style, textarea, mjx-container, .highlight';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement && !n.parentElement.closest(skip) && /\\$\\$|\\\\\\(|\\\\\\[/.test(n.textContent)) {
      raw.push(n.textContent.trim().slice(0, 80)); }
  }
  const main = document.querySelector('#main-content') || document.body;
  const hidden = [...main.querySelectorAll('details.hide.above-input')];
  const colab = [...main.querySelectorAll('a[href^="https://colab.research.google.com/github/"] img')];
  return {
    math: document.querySelectorAll('.math').length,
    untypeset: [...document.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container'))
                 .map(m => m.textContent.slice(0, 60)),
    texErrors: [...document.querySelectorAll('mjx-merror')].map(m => m.textContent.slice(0, 60)),
    raw: raw,
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src),
    links: [...new Set([...document.querySelectorAll('a[href]')].map(a => a.href))],
    ids: [...document.querySelectorAll('[id]')].map(e => e.id)
           .concat([...document.querySelectorAll('a[name]')].map(a => a.name)),
    prev: (document.querySelector('a.left-prev') || {}).href || null,
    next: (document.querySelector('a.right-next') || {}).href || null,
    hidden: hidden.length,
    hiddenOpen: hidden.filter(d => d.open || d.querySelector('.cell_input').checkVisibility()).length,
    colab: colab.map(i => i.naturalWidth),
    download: [...main.querySelectorAll('a.dlf-download[download]')].map(a => a.getAttribute('href')),
    details: main.querySelectorAll('details:not(.hide)').length,
    tables: main.querySelectorAll('table').length,
  };
}"""


def chromium() -> str | None:
    """Debian's Chromium (or ``$DLF_CHROMIUM``): the real binary behind Debian's /usr/bin/chromium wrapper."""
    given = os.environ.get("DLF_CHROMIUM", "").strip()
    if given:
        return given if Path(given).exists() else None
    if Path("/usr/lib/chromium/chromium").exists():
        return "/usr/lib/chromium/chromium"
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def _unavailable(reason: str):
    """Fail in CI (``.ci/run`` installs everything the test needs); elsewhere skip, saying why."""
    if IN_CI:
        pytest.fail(f"{reason} -- CI (CI=true) must run the site tests: .ci/run installs Chromium with apt "
                    "and the Python packages with `pip install -r requirements.txt`.", pytrace=False)
    pytest.skip(f"{reason}: the site's browser tests need it (apt-get install chromium; "
                "pip install -r requirements.txt)")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no access log on the test output
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # the browser closing a connection early is fine
        pass


@pytest.fixture(scope="module")
def built():
    for module in ("sphinx", "myst_nb", "sphinx_book_theme", "playwright.sync_api"):
        try:
            __import__(module)
        except ImportError:
            _unavailable(f"Python package {module.split('.')[0]!r} is not installed")
    return site.build(OUT)


@pytest.fixture(scope="module")
def visit(built):
    """Every page of the site opened once in Chromium; what each page showed, and timings."""
    exe = chromium()
    if exe is None:
        _unavailable("Chromium is not installed (no /usr/lib/chromium/chromium, chromium or $DLF_CHROMIUM)")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    server = _Server(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built.html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    pages = sorted(p.relative_to(built.html).as_posix() for p in built.html.rglob("*.html") if "_static" not in p.parts)
    chapters = {f"{c.name}/README.html" for c in layout.chapters() if layout.published(c)}
    seen, errors, outside, search, slow = {}, [], set(), {}, []
    start = time.perf_counter()
    try:
        with sync_playwright() as pw:
            # No name resolves but the loopback address: nothing outside the site can load.
            browser = pw.chromium.launch(executable_path=exe, headless=True,
                                         args=["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                                               "--disable-dev-shm-usage",  # containers' small /dev/shm
                                               "--disable-gpu"])
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            current = {"page": ""}

            def watched(label):
                """A fresh tab whose errors and outside requests are recorded under `label` (or current page)."""
                tab = context.new_page()
                name = (lambda: label) if label else (lambda: current["page"])
                tab.on("console", lambda m: errors.append(f"{name()}: console {m.type}: {m.text}")
                       if m.type == "error" else None)
                tab.on("pageerror", lambda e: errors.append(f"{name()}: uncaught {e}"))
                tab.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:"))
                       else outside.add(f"{name()}: {r.url}"))
                tab.set_default_timeout(120_000)  # a page takes about 1 s; far more only on a starved CPU
                return tab

            page = watched(None)
            for rel in pages:
                current["page"] = rel
                try:
                    page.goto(base + rel, wait_until="domcontentloaded")
                except PlaywrightTimeout:  # once, on a machine too busy to answer in time
                    slow.append(rel)
                    page.goto(base + rel, wait_until="domcontentloaded")
                try:  # images and MathJax are awaited by _INSPECT itself
                    page.wait_for_load_state("load", timeout=20_000)
                except PlaywrightTimeout:  # seen only on a starved CPU, with every request answered
                    slow.append(rel)
                seen[rel] = page.evaluate(_INSPECT)
                if rel in chapters:
                    page.screenshot(path=str(SHOTS / f"{rel.split('/')[0]}.png"), full_page=True)
            for query in ("backpropagation", "beam search"):
                current["page"] = f"search.html?q={query}"
                page.goto(f"{base}search.html?q={query.replace(' ', '+')}", wait_until="load")
                page.wait_for_function("() => { const s = document.querySelector('#search-results .search-summary');"
                                       " return s && !/Searching/.test(s.textContent); }", timeout=30000)
                search[query] = page.eval_on_selector_all("#search-results ul.search li a",
                                                          "els => els.map(e => e.getAttribute('href'))")
            page.close()  # its search results may still be rendering on timers; they must not reach the probe
            # The checks themselves can fail: a page with an outside image, raw and untypeset math.
            # A tab of its own, so nothing left over from the pages above can run in it or be counted as it.
            page = watched("(probe)")
            page.set_content('<p>$$x$$</p><span class="math">\\(y\\)</span><img src="https://cdn.example.org/a.png">'
                             f'<a href="{base}no-such-page.html">x</a>', wait_until="load")
            probe = page.evaluate(_INSPECT)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    # Sorted out only once the browser is closed: an event that arrives late is still counted where it belongs.
    probe["outside"] = sorted(o for o in outside if o.startswith("(probe)"))
    probe["errors"] = [e for e in errors if e.startswith("(probe)")]
    outside -= set(probe["outside"])
    errors[:] = [e for e in errors if not e.startswith("(probe)")]
    seconds = time.perf_counter() - start
    report = {"build_seconds": round(built.seconds, 1), "browser_seconds": round(seconds, 1),
              "pages": len(seen), "screenshots": len(list(SHOTS.glob("*.png"))),
              "images": sum(p["images"] for p in seen.values()), "math": sum(p["math"] for p in seen.values()),
              "links": sum(len(p["links"]) for p in seen.values()), "slow_pages": slow,
              "sphinx_warnings": built.warnings}
    (OUT / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print("site:", json.dumps({k: v for k, v in report.items() if k != "sphinx_warnings"}))
    return {"base": base, "html": built.html, "pages": seen, "errors": errors, "outside": sorted(outside),
            "search": search, "report": report, "probe": probe}


def _notebook_pages() -> dict[str, Path]:
    return {f"{nb.parent.name}/{nb.stem}.html": nb for c in layout.chapters() if layout.published(c)
            for nb in layout.notebooks(chapter=c)}


def test_build_is_clean(built):
    assert built.warnings == [], "Sphinx warnings:\n" + "\n".join(built.warnings[:30])
    assert (built.html / "index.html").exists() and (built.html / "search.html").exists()
    assert built.html.is_relative_to(layout.ROOT / "build"), "the site must land in the git-ignored build folder"


def test_the_browser_checks_can_fail(visit):
    """On a made-up page: an outside request, a broken image, raw and untypeset math are all seen."""
    probe = visit["probe"]
    assert probe["outside"] == ["(probe): https://cdn.example.org/a.png"], probe["outside"]
    assert probe["errors"] and probe["broken"] == ["https://cdn.example.org/a.png"], probe
    assert probe["raw"] == ["$$x$$", "\\(y\\)"] and probe["untypeset"] == ["\\(y\\)"], probe
    missing = _missing_links({"(probe)": probe}, visit["base"], visit["html"])
    assert missing == ["(probe) -> no-such-page.html (no such file)"], missing


def test_every_page_was_read(visit):
    expected = {"index.html", "CONTRIBUTING.html", "search.html", "genindex.html"} | set(_notebook_pages())
    expected |= {f"{c.name}/README.html" for c in layout.chapters() if layout.published(c)}
    assert expected <= set(visit["pages"]), sorted(expected - set(visit["pages"]))


def test_no_console_errors_and_nothing_fetched_from_outside(visit):
    assert visit["errors"] == [], "\n".join(visit["errors"][:30])
    assert visit["outside"] == [], "requests outside the site:\n" + "\n".join(visit["outside"][:30])


def test_math_is_typeset(visit):
    pages = visit["pages"]
    bad = {rel: {k: p[k] for k in ("untypeset", "texErrors", "raw") if p[k]} for rel, p in pages.items()
           if p["untypeset"] or p["texErrors"] or p["raw"]}
    assert bad == {}, json.dumps(bad, indent=1, ensure_ascii=False)[:3000]
    with_math = [rel for rel, p in pages.items() if p["math"]]
    assert len(with_math) >= 10 and sum(pages[r]["math"] for r in with_math) > 500, with_math


def test_every_image_loads(visit):
    broken = {rel: p["broken"] for rel, p in visit["pages"].items() if p["broken"]}
    assert broken == {}, json.dumps(broken, indent=1)[:3000]
    assert sum(p["images"] for p in visit["pages"].values()) > 100  # the notebooks' figures are there


def _missing_links(pages: dict, base: str, html: Path) -> list[str]:
    """Internal links of the pages that name no file of the site, or no anchor in their page."""
    missing = []
    for rel, page in pages.items():
        for href in page["links"]:
            if not href.startswith(base):
                continue
            parts = urlsplit(href)
            path = unquote(parts.path)[len(urlsplit(base).path):] or "index.html"
            path = path + "index.html" if path.endswith("/") else path
            if not (html / path).is_file():
                missing.append(f"{rel} -> {path} (no such file)")
            elif parts.fragment and path.endswith(".html"):
                ids = pages[path]["ids"] if path in pages else re.findall(r'id="([^"]+)"', (html / path).read_text())
                if unquote(parts.fragment) not in ids:
                    missing.append(f"{rel} -> {path}#{parts.fragment} (no such anchor)")
    return sorted(set(missing))


def test_every_internal_link_resolves(visit):
    missing = _missing_links(visit["pages"], visit["base"], visit["html"])
    assert missing == [], "\n".join(missing[:40])
    links = sum(1 for p in visit["pages"].values() for h in p["links"] if h.startswith(visit["base"]))
    assert links > 1000, links


def test_search_finds_the_course_topics(visit):
    found = visit["search"]
    assert any(h.startswith("02_backprop/") for h in found["backpropagation"]), found["backpropagation"]
    assert any(h.startswith("08_seq2seq/") for h in found["beam search"]), found["beam search"]


def test_chapters_in_course_order_with_previous_and_next(visit):
    """Following "next" from the home page visits each chapter's README, then its notebooks, 01 to 10."""
    chapters = sorted((c for c in layout.chapters() if layout.published(c)),
                      key=lambda c: (c.name not in layout.SYLLABUS, c.name))
    order = ["index.html"] + [p for c in chapters for p in
                              [f"{c.name}/README.html"] + [f"{c.name}/{nb.stem}.html" for nb in layout.notebooks(chapter=c)]]
    base, pages = visit["base"], visit["pages"]
    walked, rel = [], "index.html"
    while rel and rel not in walked and rel in pages:
        walked.append(rel)
        nxt = pages[rel]["next"]
        rel = nxt[len(base):] if nxt else None
    assert walked[:len(order)] == order
    for before, after in zip(order, order[1:]):
        assert pages[after]["prev"] == base + before, (after, pages[after]["prev"])


def test_notebook_pages_have_badge_download_and_collapsed_solutions(visit):
    html, pages, compared = visit["html"], visit["pages"], 0
    for rel, source in _notebook_pages().items():
        page = pages[rel]
        assert page["colab"] and all(w > 0 for w in page["colab"]), f"{rel}: no Colab badge shown"
        assert page["download"] == [source.name], f"{rel}: download links {page['download']}"
        download = (html / rel).with_suffix(".ipynb")
        if download.stat().st_mtime_ns == source.stat().st_mtime_ns:  # copied with its time, not edited since
            digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (download, source)]
            assert digest[0] == digest[1], f"{rel}: the download is not the notebook as committed"
            compared += 1
        cells = json.loads(source.read_text(encoding="utf-8"))["cells"]
        hidden = sum(1 for c in cells if c["cell_type"] == "code"
                     and c.get("metadata", {}).get("jupyter", {}).get("source_hidden"))
        assert page["hidden"] == hidden, f"{rel}: {page['hidden']} collapsed blocks for {hidden} hidden solutions"
        assert page["hiddenOpen"] == 0, f"{rel}: {page['hiddenOpen']} hidden solutions shown open"
    assert compared >= len(_notebook_pages()) / 2, f"only {compared} downloads compared (notebooks edited meanwhile?)"


def test_chapter_pages_have_results_and_review_questions(visit):
    pages = visit["pages"]
    for chapter in (c for c in layout.chapters() if layout.published(c)):
        page, text = pages[f"{chapter.name}/README.html"], (chapter / "README.md").read_text(encoding="utf-8")
        assert page["tables"] >= text.count("<!-- results:start -->"), f"{chapter.name}: results table missing"
        assert page["details"] == text.count("<details"), f"{chapter.name}: review questions missing"
        assert page["colab"] and all(w > 0 for w in page["colab"]), f"{chapter.name}: no Colab badges in the table"


def test_one_screenshot_per_chapter(visit):
    wanted = {f"{c.name}.png" for c in layout.chapters() if layout.published(c)}
    shots = {p.name: p.stat().st_size for p in SHOTS.glob("*.png")}
    assert set(shots) == wanted and all(size > 10_000 for size in shots.values()), shots


def test_pages_url_follows_the_repository():
    assert site.pages_url("https://github.com/Some-Owner/some-course.git") == "https://some-owner.github.io/some-course/"
    assert site.pages_url().endswith("/" + config.REPO_URL.rstrip("/").rsplit("/", 1)[1] + "/")


def test_adapted_copy_leaves_the_repository_alone(tmp_path):
    """Links are re-pointed in the copy only: folders to their README page, other files to GitHub."""
    root = layout.ROOT
    pages = {(root / "README.md").resolve(), (root / "01_neural_network_foundations" / "README.md").resolve()}
    text = "[a](01_neural_network_foundations/) [b](results.json) [c](https://x.org) [d](#here) " \
           f"[![Colab]({site.BADGE_URL})](https://colab.research.google.com/github/x)"
    out = site._links(text, root, root, pages)
    assert "[a](01_neural_network_foundations/README.md)" in out
    assert f"[b]({config.REPO_URL.rstrip('/')}/blob/{config.REPO_BRANCH}/results.json)" in out
    assert "[c](https://x.org)" in out and "[d](#here)" in out and f"(/{site.BADGE_FILE})" in out


def test_display_math_is_kept_from_markdown_lists():
    """A formula continued on a line starting with - or + stays one formula (as Jupyter shows it)."""
    text = "so\n$$a = b\n - c\n+ d$$\nand $x$\n- a real list item\n"
    assert site._protect_math(text) == "so\n$$a = b - c + d$$\nand $x$\n- a real list item\n"


def test_readme_links_the_site_and_says_how_to_build_it():
    readme = (layout.ROOT / "README.md").read_text(encoding="utf-8")
    assert site.pages_url() in readme, f"README.md does not link the site at {site.pages_url()}"
    assert "python -m utils.site" in readme, "README.md does not say how to build the site"
