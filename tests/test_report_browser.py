"""The demo's report.html in a real headless browser (Debian's chromium); the screenshot is kept."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import OUTPUT, run_cli

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        message = "chromium not found; install it with `apt-get install -y --no-install-recommends chromium`"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return exe


def browse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_report_loads_offline_and_shows_the_ranking(tmp_path: Path) -> None:
    out = tmp_path / "archive"
    proc = run_cli("export", "-q", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out / "report.html"
    text = page.read_text()
    # self-contained: no external asset of any kind
    import re

    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    for needle in ("<script src", "<link ", "@import", "url(http", "url(//"):
        assert needle not in text, needle
    dom = browse(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<table id="ranking">' in dom.stdout
    assert dom.stdout.count('<tr class="top') + dom.stdout.count('<tr class="top cut') >= 30
    assert dom.stdout.count("<svg") >= 2 and "Live board vs batch" in dom.stdout
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "report-demo.png"
    shot.unlink(missing_ok=True)
    done = browse(tmp_path, "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.shape[0] == 2000 and pixels.shape[1] == 1280
    assert pixels.std() > 0.05  # not a blank page
    shutil.copy(page, OUTPUT / "report-demo.html")
