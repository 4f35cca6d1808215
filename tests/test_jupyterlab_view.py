"""Notebooks 11–18 and every exercise notebook opened untrusted in JupyterLab: every graph shown,
no red math, nothing too wide.

A fresh clone's notebooks are untrusted, so JupyterLab shows no SVG; every graph must show its PNG.
Skipped where JupyterLab (`make lab` adds it to .venv) or Chromium is missing. GRADBOOK_JUPYTER_LAB
names another `jupyter-lab` to use and GRADBOOK_LAB_NOTEBOOKS another folder of built notebooks.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from gradbook.book._browser import Browser, find_chromium

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = Path(os.environ.get("GRADBOOK_LAB_NOTEBOOKS", ROOT / "notebooks"))
LAB = Path(os.environ.get("GRADBOOK_JUPYTER_LAB", Path(sys.executable).parent / "jupyter-lab"))
CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or not LAB.exists(),
    reason="needs JupyterLab (`make lab`, or GRADBOOK_JUPYTER_LAB) and Chromium (apt-get install chromium)")

# Every cell attached to the page (not only those in view), and no news request to the internet.
SETTINGS = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
            "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                {"fetchNews": "false", "checkForUpdates": False}}

# Per cell: the images shown, MathJax's errors, and the outermost output or prose wider than the panel.
MEASURE = r"""(() => {
  const panel = document.querySelector('.jp-NotebookPanel .jp-Notebook');
  const right = panel.getBoundingClientRect().right;
  const out = {svgs: panel.querySelectorAll('.jp-RenderedSVG').length, imgs: [], merrors: [], wide: []};
  [...panel.querySelectorAll('.jp-Cell')].forEach((cell, i) => {
    cell.querySelectorAll('.jp-RenderedImage img').forEach(img => {
      if (img.complete && img.naturalWidth > 0) out.imgs.push(i); });
    cell.querySelectorAll('mjx-merror').forEach(e => {
      if (!e.closest('mjx-assistive-mml') && !e.parentElement.closest('mjx-merror'))
        out.merrors.push({cell: i, error: e.getAttribute('data-mjx-error'), tex: e.textContent}); });
    const shown = cell.querySelectorAll('.jp-RenderedMarkdown, .jp-RenderedText, .jp-RenderedImage');
    const wide = [...shown].flatMap(r => [r, ...r.querySelectorAll('*')]).find(e => {
      if (e.closest('mjx-assistive-mml')) return false;
      const clips = ['auto', 'scroll', 'hidden'].includes(getComputedStyle(e).overflowX);
      return (clips && e.scrollWidth > e.clientWidth + 1) || e.getBoundingClientRect().right > right + 1; });
    if (wide) out.wide.push({cell: i, width: wide.scrollWidth, room: wide.clientWidth,
                             text: wide.textContent.replace(/\s+/g, ' ').slice(0, 100)});
  });
  return out;
})()"""
SETTLED = r"""(() => {
  const p = document.querySelector('.jp-NotebookPanel .jp-Notebook');
  if (!p || !p.querySelector('.jp-Cell')) return null;
  return [p.querySelectorAll('.jp-Cell').length, p.querySelectorAll('mjx-container').length,
          [...p.querySelectorAll('img')].map(i => i.complete).join()].join('/');
})()"""


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab_server(folder: Path, home: Path):
    """JupyterLab on 127.0.0.1 serving folder, with fresh data and settings (so nothing is trusted)."""
    for name, values in SETTINGS.items():
        (home / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (home / "settings" / name).write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    server = subprocess.Popen(
        [str(LAB), "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
         f"--LabApp.user_settings_dir={home / 'settings'}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}", "--LabApp.news_url="],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("JupyterLab did not start within 120 s")
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until(browser: Browser, expression: str, seconds: float = 120):
    """The expression's value once it is truthy and has not changed for three seconds."""
    last, since, end = None, time.monotonic(), time.monotonic() + seconds
    while time.monotonic() < end:
        value = browser.evaluate(expression)
        if value != last:
            last, since = value, time.monotonic()
        elif value and time.monotonic() - since >= 3:
            return value
        time.sleep(0.5)
    raise AssertionError(f"the notebook did not settle within {seconds:g} s")


def view(browser: Browser, base: str, token: str, name: str) -> dict:
    """What the page shows of one notebook, measured once it has settled (MathJax done, images loaded)."""
    browser.open(f"{base}/lab/tree/{name}?reset&token={token}")
    wait_until(browser, SETTLED)
    return browser.evaluate(MEASURE)


def graph_cells(path: Path) -> list[int]:
    """The cells of a notebook with an image output (a graph or a figure)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [i for i, c in enumerate(cells) for o in c.get("outputs", []) if "image/png" in o.get("data", {})]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with lab_server(NOTEBOOKS, tmp_path_factory.mktemp("lab")) as (base, token):
        with Browser(CHROMIUM, width=1400, height=1000, timeout=60) as browser:
            yield browser, base, token


def test_the_check_sees_red_math_an_svg_only_graph_and_a_wide_formula(tmp_path):
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="90" height="20"><text y="15">g</text></svg>'
    long_sum = " + ".join(f"x_{{{i}}}" for i in range(200))
    outputs = [{"text/markdown": "$v_{5}_{i}$", "text/plain": "v"},
               {"text/markdown": f"$${long_sum}$$", "text/plain": "x"},
               {"image/svg+xml": svg, "text/plain": "[graph of g]"}]
    cells = [{"cell_type": "code", "id": str(i), "metadata": {}, "execution_count": None, "source": "",
              "outputs": [{"output_type": "display_data", "metadata": {}, "data": data}]}
             for i, data in enumerate(outputs)]
    (tmp_path / "bad").mkdir()
    notebook = {"nbformat": 4, "nbformat_minor": 5, "cells": cells, "metadata": {}}
    (tmp_path / "bad" / "bad.ipynb").write_text(json.dumps(notebook))
    with lab_server(tmp_path / "bad", tmp_path) as (base, token):
        with Browser(CHROMIUM, width=1400, height=1000, timeout=60) as browser:
            seen = view(browser, base, token, "bad.ipynb")
    assert [e["cell"] for e in seen["merrors"]] == [0] and "Double subscripts" in seen["merrors"][0]["error"]
    assert [w["cell"] for w in seen["wide"]] == [1]
    assert seen["imgs"] == [] and seen["svgs"] == 0  # untrusted: the SVG-only graph shows as text


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("1[1-8]_*.ipynb")) +
                         sorted(f"exercises/{p.name}" for p in NOTEBOOKS.glob("exercises/*.ipynb")))
def test_untrusted_notebook_shows_every_graph_no_red_math_and_nothing_too_wide(lab, name):
    seen = view(*lab, name)
    assert seen["svgs"] == 0, "an SVG was rendered: the notebook is trusted, so this test shows nothing"
    assert seen["imgs"] == graph_cells(NOTEBOOKS / name), f"{name}: cells with a graph not shown"
    assert seen["merrors"] == [], f"{name}: MathJax refused {seen['merrors']}"
    assert seen["wide"] == [], f"{name}: wider than the notebook panel: {seen['wide']}"
