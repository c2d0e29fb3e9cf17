"""First answer in a real browser: the first Generate and salience view after "Loaded" against later ones.

    .venv/bin/python bench/bench_first_answer.py [--rounds 4] [--repeats 1] [--json OUT]

Starts `streamlit run app.py` with the real embedded Gemma 3 270M and a fresh
SQLite store, drives headless Chromium, and measures:
- server start → the sidebar's "Loaded in" (model ready);
- the first Generate, clicked as soon as the model is ready (the background
  warm-up may still run), against the later ones (median); target ≤ 1.5×;
- the first salience view ("Explain this completion") against the later
  ones (median); target ≤ 1.5×;
- server start → the first completion on screen.
Each round fills the blank with another menu item, so every Generate and
every salience view computes afresh (no cached scores). `--repeats` starts
that many fresh servers one after the other and prints each and the medians.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # the app server helper shared with the e2e tests

from app_server import Server, launch_chromium  # noqa: E402 - needs the path above.

MENU_ITEMS = ["Quiche Lorraine", "Mushroom risotto", "Beef bourguignon", "Caesar salad", "Lentil soup", "Fish and chips"]
TIMEOUT_MS = 600_000


def _wait_idle(page) -> None:
    """Waits until the script run is over: no element is marked stale any more."""
    page.wait_for_timeout(200)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0", timeout=TIMEOUT_MS
    )


def _generate(page, run_number: int, item: str) -> float:
    """Fills the blank with `item`, presses Generate; seconds until run `run_number` is on screen."""
    field = page.get_by_label("Menu item")
    field.fill(item)
    field.press("Tab")
    _wait_idle(page)
    started = time.perf_counter()
    page.get_by_role("button", name="Generate").click()
    page.get_by_text(re.compile(rf"Run #{run_number} ·")).first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name=re.compile("Explain this completion")).wait_for(timeout=TIMEOUT_MS)
    elapsed = time.perf_counter() - started
    _wait_idle(page)
    return elapsed


def _salience(page) -> float:
    """Opens the shown run in Salience; seconds until its heatmap is drawn."""
    started = time.perf_counter()
    page.get_by_role("button", name=re.compile("Explain this completion")).click()
    page.get_by_text("Explaining this part of the answer:").wait_for(timeout=TIMEOUT_MS)
    page.locator(".js-plotly-plot").first.wait_for(timeout=TIMEOUT_MS)
    _wait_idle(page)
    elapsed = time.perf_counter() - started
    page.get_by_role("link", name="Playground").click()
    page.get_by_role("button", name="Generate").wait_for(timeout=TIMEOUT_MS)
    _wait_idle(page)
    return elapsed


def one_server(rounds: int, workdir: Path) -> dict[str, float]:
    """One fresh server: times to ready and first answer, and each round's Generate and salience view.

    Args:
        rounds: Generate + salience rounds (≥ 2: the first, and later ones).
        workdir: an empty folder for the server's store and logs.

    Returns:
        Seconds: `model_ready_s`, `first_completion_s` (both from the server
        start), `generate_first_s`, `generate_later_median_s`,
        `salience_first_s`, `salience_later_median_s`, and the two ratios.
    """
    from playwright.sync_api import sync_playwright

    server = Server(workdir)
    try:
        server.wait_healthy()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(server.url)
            page.get_by_text(re.compile(r"Loaded in \d")).first.wait_for(timeout=TIMEOUT_MS)
            ready = time.perf_counter() - server.started
            generates, saliences, first_completion = [], [], 0.0
            for index in range(rounds):
                generates.append(_generate(page, index + 1, MENU_ITEMS[index % len(MENU_ITEMS)]))
                if index == 0:
                    first_completion = time.perf_counter() - server.started
                saliences.append(_salience(page))
                print(f"  round {index + 1}: generate {generates[-1]:.2f} s, salience {saliences[-1]:.2f} s", flush=True)
            browser.close()
    finally:
        server.stop()
    later_generate, later_salience = statistics.median(generates[1:]), statistics.median(saliences[1:])
    return {
        "model_ready_s": ready,
        "first_completion_s": first_completion,
        "generate_first_s": generates[0],
        "generate_later_median_s": later_generate,
        "generate_first_over_later": generates[0] / later_generate,
        "salience_first_s": saliences[0],
        "salience_later_median_s": later_salience,
        "salience_first_over_later": saliences[0] / later_salience,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="Generate + salience rounds per server (≥ 2)")
    parser.add_argument("--repeats", type=int, default=1, help="fresh servers, one after the other")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
            print(f"server {repeat + 1}/{args.repeats}, {load}", flush=True)
            workdir = Path(tmp) / f"server-{repeat}"
            workdir.mkdir()
            result = one_server(args.rounds, workdir)
            result["uptime"] = load  # type: ignore[assignment]
            results.append(result)
            print(json.dumps(result), flush=True)
    keys = [key for key in results[0] if key != "uptime"]
    print("\n| measure | " + " | ".join(f"server {i + 1}" for i in range(len(results))) + " | median |")
    print("| --- |" + " --- |" * (len(results) + 1))
    for key in keys:
        values = [result[key] for result in results]
        print(f"| {key} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {statistics.median(values):.2f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
