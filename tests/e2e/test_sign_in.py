"""Team mode in a real browser: sign-in through a real local OpenID provider.

The provider is `oidc-provider-mock` (a subprocess on a free loopback port,
clients must register): the test registers the dashboard as a client with its
redirect URI, writes the dashboard's `[auth]` secrets into a temporary folder
and points Streamlit at that file (`STREAMLIT_SECRETS_FILES`, the
`secrets.files` option), so the repository's `.streamlit/` is never touched.
The browser "signs in" on the provider's form by typing a subject (the
e-mail); the provider's user records give each subject its e-mail and name.
The dashboard runs the tiny random-weight model, so nothing slow loads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_server import Server, free_port, running_server

from promptkit.people import Role
from promptkit.store import Store

pytestmark = pytest.mark.browser

ADMIN = {"email": "ann@example.org", "name": "Ann Admin"}
VIEWER = {"email": "bo@example.org", "name": "Bo Viewer"}
PROVIDER_STARTUP_TIMEOUT_S = 30
STEP_TIMEOUT_MS = 60_000
MODEL_READY_TIMEOUT_MS = 180_000
AUTH_COOKIE = re.compile(r"^_streamlit_user")  # the identity cookie and the tokens cookie (and any chunks)
# What only a signed-in person may see: page names, template families and text, runs, reviews, the model.
PRIVATE_TEXT = [
    "Playground", "Compare", "Salience", "History",
    "menu-analysis", "gsm8k-maths", "news-summarization", "sentiment-classifier",
    "Analyze a menu item", "Quiche", "Run #", "Review task", "tiny:gemma3", "Gemma", "Loaded in", "Model",
]


@dataclass_free_provider := None  # placeholder removed below
