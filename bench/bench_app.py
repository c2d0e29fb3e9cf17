"""Dashboard benchmark: startup to first completion, salience re-render, Compare run.

    .venv/bin/python bench/bench_app.py [--skip-cold] [--out bench/results/app.md]

Measures, with the real embedded Gemma 3 270M:
- time from `streamlit run app.py` to the first completion shown in a
  headless Chromium, with a cold model cache (conversion + load) and a warm
  one (load only);
- the Salience page's re-render time after a granularity change (cached
  scores; AppTest, in process);
- a Compare run of 3 versions x 4 cases (AppTest, in process).
Results are written as Markdown with the date and the machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # the app server helper shared with the e2e tests

from app_server import Server, launch_chromium  # noqa: E402 - needs the path above.


def startup_to_first_completion(cache_dir: str | None, workdir: Path) -> dict[str, float]:
    """Seconds from `streamlit run` to health, to model loaded, to a completion on screen.

    Args:
        cache_dir: PROMPTKIT_CACHE for the server (an empty one for a cold
            start), or None for the usual cache.
        workdir: a folder to create for the server's store and logs.

    Returns:
        `health_s`, `model_ready_s` and `first_completion_s`, each counted
        from the start of the server process.
    """
    from playwright.sync_api import sync_playwright

    workdir.mkdir()  # a store and logs of its own for each start
    server = Server(workdir, {"PROMPTKIT_CACHE": cache_dir} if cache_dir is not None else None)
    try:
        healthy = server.wait_healthy()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(f"{server.url}/")
            page.get_by_text(re.compile(r"Loaded in \d")).first.wait_for(timeout=600_000)
            loaded = time.perf_counter() - server.started
            page.get_by_role("button", name="Generate").click()
            page.get_by_text(re.compile(r"Run #\d+ ·")).first.wait_for(timeout=600_000)
            completed = time.perf_counter() - server.started
            browser.close()
    finally:
        server.stop()
    return {"health_s": healthy, "model_ready_s": loaded, "first_completion_s": completed}


def in_process_timings(workdir: Path) -> dict[str, float]:
    """Compare 3 versions x 4 cases, and Salience re-render after a granularity change."""
    from streamlit.testing.v1 import AppTest

    os.environ.pop("PROMPTKIT_MODEL", None)
    os.environ["PROMPTKIT_DB"] = str(workdir / "inprocess.db")
    app = str(ROOT / "app.py")
    results: dict[str, float] = {}

    at = AppTest.from_file(app, default_timeout=900)
    at.switch_page("dashboard/views/compare.py")
    at.run()
    at.multiselect(key="pk_cmp_versions::menu-analysis").set_value([1, 2, 3])
    cases = [option for option in at.multiselect(key="pk_cmp_cases::menu-analysis").options][:4]
    at.multiselect(key="pk_cmp_cases::menu-analysis").set_value(cases)
    submit = next(item for item in at.button if item.label == "Run comparison")
    submit.click()
    started = time.perf_counter()
    at.run()
    results["compare_3x4_s"] = time.perf_counter() - started
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]

    print("compare", results, flush=True)
    from dashboard.state import KEY_COMPARE_RESULT

    _, run_ids = at.session_state[KEY_COMPARE_RESULT]
    results.update(salience_rerender(at, min(run_ids.values())))
    return results


def salience_rerender(at, run_id: int) -> dict[str, float]:
    """Opens a Compare cell's run in Salience, then times granularity switches.

    Reports the page script's own time (bench/_timed_page.py) and the AppTest
    round trip, which adds AppTest's per-run overhead.
    """
    from streamlit.testing.v1 import AppTest

    from dashboard.snippets import GRANULARITY_LABELS
    from dashboard.state import KEY_SALIENCE_RUN

    timed = AppTest.from_file(str(ROOT / "bench" / "_timed_page.py"), default_timeout=900)
    timed.session_state[KEY_SALIENCE_RUN] = run_id
    started = time.perf_counter()
    timed.run()
    assert not timed.exception and not timed.error, [e.value for e in (*timed.exception, *timed.error)]
    results = {"salience_first_s": time.perf_counter() - started}
    script, round_trip = [], []
    granularities = [g for g in GRANULARITY_LABELS if g != "parts"] + ["parts"]
    for granularity in granularities * 3:
        timed.selectbox(key="pk_sal_granularity").set_value(granularity)
        started = time.perf_counter()
        timed.run()
        round_trip.append(time.perf_counter() - started)
        script.append(timed.session_state["pk_bench_script_s"])
    assert not timed.exception and not timed.error, [e.value for e in (*timed.exception, *timed.error)]
    results["granularity_script_median_s"] = statistics.median(script)
    results["granularity_script_max_s"] = max(script)
    results["granularity_apptest_median_s"] = statistics.median(round_trip)
    return results


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold-cache startup (conversion)")
    parser.add_argument("--skip-browser", action="store_true", help="skip both startup measurements")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "app.md"))
    parser.add_argument(
        "--reuse-startup", action="store_true", help="reuse the startup numbers saved in bench/results/ by an earlier run"
    )
    args = parser.parse_args()
    import json

    saved = ROOT / "bench" / "results" / "app-startup.json"

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        startup: dict[str, dict[str, float]] = json.loads(saved.read_text()) if args.reuse_startup else {}
        if not args.skip_browser:
            if not args.skip_cold:
                cold = startup.get("cold") or startup_to_first_completion(str(workdir / "cold-cache"), workdir / "cold")
                startup["cold"] = cold
                print("cold", cold, flush=True)
                rows += [
                    ("Cold cache: `streamlit run` → health", f"{cold['health_s']:.1f} s", "empty PROMPTKIT_CACHE"),
                    ("Cold cache: → model ready (convert + load)", f"{cold['model_ready_s']:.1f} s", "GGUF → KerasHub preset"),
                    ("Cold cache: → first completion on screen", f"{cold['first_completion_s']:.1f} s", "menu-analysis v1, quiche case"),
                ]
            warm = startup.get("warm") or startup_to_first_completion(None, workdir / "warm")
            startup["warm"] = warm
            saved.parent.mkdir(exist_ok=True)
            saved.write_text(json.dumps(startup))
            print("warm", warm, flush=True)
            rows += [
                ("Warm cache: `streamlit run` → health", f"{warm['health_s']:.1f} s", ""),
                ("Warm cache: → model ready (load)", f"{warm['model_ready_s']:.1f} s", ""),
                ("Warm cache: → first completion on screen", f"{warm['first_completion_s']:.1f} s", "menu-analysis v1, quiche case"),
            ]
        timings = in_process_timings(workdir)
        print("in-process", timings, flush=True)
        rows.append(("Compare: 3 versions × 4 cases", f"{timings['compare_3x4_s']:.1f} s", "one batched run, 64 new tokens max, blank-line stop"))
        if "salience_first_s" in timings:
            rows.append(("Salience: first view of a Compare cell", f"{timings['salience_first_s']:.2f} s", "gradients computed once"))
            rows.append(("Salience: re-render after a granularity change (page script)", f"{timings['granularity_script_median_s'] * 1000:.0f} ms median, {timings['granularity_script_max_s'] * 1000:.0f} ms max", "cached scores, no gradient call; target < 300 ms"))
            rows.append(("Salience: same, AppTest round trip", f"{timings['granularity_apptest_median_s'] * 1000:.0f} ms median", "includes AppTest's own per-run overhead"))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Dashboard benchmarks",
        "",
        f"Measured {now} on {machine()}, with the embedded Gemma 3 270M (float32, CPU).",
        "Produced by `bench/bench_app.py`; the startup times drive headless Chromium, the others run",
        "the pages in process with `streamlit.testing.v1.AppTest` (server-side time, no network).",
        "",
        "| measurement | result | notes |",
        "| --- | --- | --- |",
        *[f"| {name} | {value} | {note} |" for name, value, note in rows],
        "",
        "Notes:",
        "- \"model ready\" counts from the `streamlit run` command: Python and TensorFlow imports,",
        "  the first browser session, then (cold) the GGUF conversion and the preset load.",
        "- The first completion is greedy, ~450 prompt tokens and ~25 new tokens, on the 2-core CPU.",
        "- The first salience view includes tracing the gradient graph once per process; later targets",
        "  reuse it. Granularity, aggregation, intensity and self-salience changes re-aggregate cached",
        "  token scores (the AppTests assert no gradient call happens).",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
