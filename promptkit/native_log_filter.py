"""Keeps TensorFlow's, absl's and SentencePiece's native log lines off the terminal.

TensorFlow writes ~10 lines to file descriptor 2 on import (oneDNN notes,
"Could not find cuda drivers", `failed call to cuInit … UNKNOWN ERROR (303)`
on a machine without a GPU), some before absl's logging is set up, so no
`TF_CPP_MIN_LOG_LEVEL` silences them all. They are not messages for a
promptkit user. The filter runs in a small child process reading a pipe that
replaces descriptor 2, so what the native libraries write is filtered while
Python's `sys.stderr` keeps the real terminal; a crash message written just
before the process dies still reaches the terminal, since the child drains
the pipe after its parent is gone.

Shown as they are when the user asks: `PROMPTKIT_VERBOSE=1` (the CLI's
`--verbose` sets it), or a `TF_CPP_MIN_LOG_LEVEL` of their own.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys

VERBOSE_VARIABLE = "PROMPTKIT_VERBOSE"

# Lines dropped: absl/glog records below FATAL ("E0000 00:00:1796408509.565260    2916 cuda_platform.cc:52] …"),
# absl's note that such records go to stderr, and SentencePiece's LOG(INFO).
_FILTER_PROGRAM = r"""
import re, sys
noise = re.compile(
    rb"^(?:[IWE]\d{4} [\d:.]+ +\d+ [\w.-]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[\w.-]+\.cc\(\d+\) LOG\(INFO\) )"
)
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    if not noise.match(line):
        out.write(line)
        out.flush()
"""


def native_logs_wanted() -> bool:
    """Tells whether the user asked to see native log lines (`PROMPTKIT_VERBOSE`, own `TF_CPP_MIN_LOG_LEVEL`)."""
    return os.environ.get(VERBOSE_VARIABLE, "") not in ("", "0") or "TF_CPP_MIN_LOG_LEVEL" in os.environ


@functools.cache
def filter_native_logs() -> bool:
    """Routes file descriptor 2 through the native-log filter, once per process.

    Call it before TensorFlow is imported, from a program's entry point (the
    CLI, the dashboard); a library import never changes the process's stderr.

    Returns:
        True when the filter is on; False when the user wants native logs or
        the filter could not start (stderr is then left as it was).
    """
    if native_logs_wanted():
        return False
    sys.stderr.flush()
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    try:
        subprocess.Popen(  # Runs this interpreter on a fixed program.
            [sys.executable, "-c", _FILTER_PROGRAM],
            stdin=read_end,
            stdout=terminal,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    except OSError:
        for descriptor in (terminal, read_end, write_end):
            os.close(descriptor)
        return False
    os.close(read_end)
    sys.stderr = open(terminal, "w", buffering=1, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    os.dup2(write_end, 2)
    os.close(write_end)
    return True
