"""Check the seed article, write its HTML report, open it in headless Chromium and take a screenshot.

    .venv/bin/python bench/report_screenshot.py [--out bench/out/seed_report.png]

Needs Debian's chromium (`apt-get install chromium`). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACTLEDGER_SHARED", ROOT.parent / "shared"))
SEED = SHARED / "seeds" / "000_cc55e849e0e8cc2e.txt"
FL = [sys.executable, "-m", "factledger.cli"]


def run(cmd, env):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0, proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "seed_report.png"))
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium not found: apt-get install chromium")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), "FACTLEDGER_HOME": str(tmp / "home")}
        db = tmp / "report.duckdb"
        run([*FL, "corpus", "add", str(ROOT / "examples" / "corpus"), "--db", str(db)], env)
        check_s, _ = run([*FL, "check", str(SEED), "--db", str(db), "--quiet"], env)
        html = out.with_suffix(".html")
        run([*FL, "report", str(SEED), "--out", str(html), "--db", str(db)], env)
        t0 = time.perf_counter()
        shot = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'chrome'}", "--hide-scrollbars", "--window-size=1280,2400",
             f"--screenshot={out}", html.as_uri()],
            capture_output=True, text=True, timeout=120)
        shot_s = time.perf_counter() - t0
    ok = out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(json.dumps({"report_html": str(html), "screenshot": str(out), "png_ok": ok,
                      "png_bytes": out.stat().st_size if out.exists() else 0, "check_seconds": round(check_s, 2),
                      "screenshot_seconds": round(shot_s, 2), "chromium_rc": shot.returncode}, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
