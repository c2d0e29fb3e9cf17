"""Runs one dashboard page and records how long its script took (for bench_app.py).

`AppTest` adds a few hundred milliseconds of its own per run (mock runtime,
thread start, element-tree parsing); this wrapper measures the page's script
alone, which is what a server spends on a re-render.
"""

import os
import time
from pathlib import Path

import streamlit as st

PAGE = Path(__file__).resolve().parents[1] / "dashboard" / "views" / os.environ.get("PROMPTKIT_BENCH_PAGE", "salience.py")
started = time.perf_counter()
try:
    exec(compile(PAGE.read_text(), str(PAGE), "exec"), {"__name__": "__main__", "__file__": str(PAGE)})
finally:
    st.session_state["pk_bench_script_s"] = time.perf_counter() - started
