"""Does ``report.html`` render in a real browser? Headless Chromium loads it and reports back.

The report carries a tiny load probe (see :mod:`multiscale.pipeline.report`): after the page's
``load`` event the body gets ``data-images-loaded="n/N"``, the number of embedded figures that
the browser decoded. :func:`check_render` runs Chromium (or Chrome) headless with
``--dump-dom`` to read that back, and takes a full-page screenshot.

Chromium is not a Python dependency: on Debian/Ubuntu ``apt install chromium``; the browser is
looked up on ``PATH`` (``chromium``, ``chromium-browser``, ``google-chrome``) or given.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from ..errors import InputError, NotBuiltError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    """Path of a Chromium-family browser on PATH, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def check_render(html_path, *, browser: str | None = None, screenshot=None, timeout_s: float = 120.0) -> dict:
    """Load ``html_path`` in headless Chromium; return what rendered.

    Returns ``{"browser", "title", "n_tables", "images_loaded", "images_total", "ok", "screenshot"}``;
    ``ok`` is True when the page has its title, its tables, and every figure decoded.
    Raises :class:`NotBuiltError` when no browser is installed.
    """
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise InputError(f"html_path = {str(html_path)!r} does not exist")
    browser = browser or find_browser()
    if browser is None:
        raise NotBuiltError(f"no headless browser found (looked for {', '.join(BROWSERS)} on PATH); "
                            "install one, e.g. `apt install chromium`")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--virtual-time-budget=10000"]
    url = html_path.as_uri()
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=timeout_s)
    if dom.returncode != 0 or "<html" not in dom.stdout:
        raise InputError(f"{browser} could not load {html_path}: {dom.stderr.strip()[-300:]}")
    m = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom.stdout)
    loaded, total = (int(m.group(1)), int(m.group(2))) if m else (0, -1)
    title = re.search(r"<title>(.*?)</title>", dom.stdout)
    out = {"browser": browser, "title": title.group(1) if title else None,
           "n_tables": dom.stdout.count("<table"), "images_loaded": loaded, "images_total": total,
           "screenshot": None}
    if screenshot is not None:
        shot = Path(screenshot).resolve()
        subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1280,4000", url], capture_output=True,
                       timeout=timeout_s)
        out["screenshot"] = str(shot) if shot.is_file() and shot.stat().st_size > 0 else None
    out["ok"] = bool(out["title"]) and out["n_tables"] >= 2 and total > 0 and loaded == total
    return out
