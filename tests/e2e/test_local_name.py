"""Local mode in a real browser: the name typed in the sidebar is remembered by that browser, and only by it."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from typing import Any

import pytest
from app_server import ROOT, Server, running_server

from promptkit.store import Store

pytestmark = pytest.mark.browser

STEP_TIMEOUT_MS = 60_000
NAME = "Grace O'Hara <QA>"  # quotes and a "<" travel through the cookie unharmed


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard in local mode with the tiny model and the short family."""
    workdir = tmp_path_factory.mktemp("local-app")
    templates = workdir / "templates"
    templates.mkdir()
    (templates / "tiny-menu.yaml").write_text((ROOT / "tests" / "app" / "small_family.yaml").read_text())
    env = {"PROMPTKIT_MODE": "local", "PROMPTKIT_MODEL": "tiny:gemma3", "PROMPTKIT_TEMPLATES_DIR": str(templates)}
    with running_server(workdir, env) as running:
        yield running


def _open(context: Any, url: str) -> Any:
    page = context.new_page()
    page.goto(f"{url}/history")
    _name_box(page).wait_for()
    _wait_idle(page)
    return page


def _name_box(page: Any) -> Any:
    return page.locator("[data-testid='stSidebar']").get_by_role("textbox", name="Your name")


def _wait_idle(page: Any) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("() => document.querySelectorAll('[data-stale=\"true\"]').length === 0")
    page.wait_for_timeout(300)


def test_a_typed_name_is_remembered_by_the_same_browser_and_not_by_another(browser, local_server, artifacts):
    mine = browser.new_context(viewport={"width": 1400, "height": 1000})
    mine.set_default_timeout(STEP_TIMEOUT_MS)
    first = _open(mine, local_server.url)
    assert _name_box(first).input_value() == getpass.getuser()  # nothing remembered yet
    _name_box(first).fill(NAME)
    _name_box(first).press("Enter")
    _wait_idle(first)
    first.wait_for_function("() => document.cookie.includes('promptkit_name=')")
    assert first.locator(".stException").count() == 0

    second = _open(mine, local_server.url)  # a new tab of the same browser: a new session
    assert _name_box(second).input_value() == NAME
    second.screenshot(path=str(artifacts / "16-local-name-remembered.png"), full_page=True)
    first.close()
    second.close()
    again = _open(mine, local_server.url)  # and once every tab was closed
    assert _name_box(again).input_value() == NAME
    mine.close()

    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    other.set_default_timeout(STEP_TIMEOUT_MS)
    stranger = _open(other, local_server.url)
    assert _name_box(stranger).input_value() == getpass.getuser()  # another browser is asked again
    assert not [c for c in other.cookies() if c["name"] == "promptkit_name"]
    stranger.screenshot(path=str(artifacts / "17-local-name-other-browser.png"), full_page=True)
    other.close()

    with Store.open(url=f"sqlite:///{local_server.env['PROMPTKIT_DB']}") as store:
        people = {person.key: person.name for person in store.list_people()}
    assert people.get(NAME) == NAME
