"""Team mode in a real browser: sign-in through a real local OpenID provider.

The provider is `oidc-provider-mock`, a subprocess on a free loopback port
that only serves registered clients. The test registers the dashboard as a
client with its redirect URI, writes the dashboard's `[auth]` secrets into a
temporary folder and points Streamlit at that file with
`STREAMLIT_SECRETS_FILES` (the `secrets.files` option), so the repository's
`.streamlit/` is neither read for secrets nor touched. The browser "signs in"
on the provider's form by typing a subject (the e-mail); the provider's user
records give each subject its e-mail and name. The dashboard runs the tiny
random-weight model on a library of one short family whose prompts fit its
context, so nothing slow loads and every comparison cell has a completion.
"""

from __future__ import annotations

import json
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
from app_server import ROOT, Server, free_port, running_server

from promptkit.people import Role
from promptkit.store import Store

pytestmark = pytest.mark.browser

ADMIN = {"email": "ann@example.org", "name": "Ann Admin"}
VIEWER = {"email": "bo@example.org", "name": "Bo Viewer"}
PROVIDER_STARTUP_TIMEOUT_S = 30
STEP_TIMEOUT_MS = 60_000
MODEL_READY_TIMEOUT_MS = 180_000
# Streamlit's identity cookie and its tokens cookie (`_streamlit_user_tokens`), and any chunks of either.
AUTH_COOKIE = re.compile(r"^_streamlit_user")
# What only a signed-in person may see: page names, template families and text, runs, reviews, the model.
PRIVATE_TEXT = [
    "Playground", "Compare", "Salience", "History",
    "tiny-menu", "Short menu prompts", "Recommendation:", "Quiche", "Run #", "Review task", "tiny:gemma3", "Gemma", "Loaded in",
    "Signed in as", "Sign out",
]


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OpenID provider on 127.0.0.1 that knows Ann and Bo; yields its issuer URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("oidc") / "provider.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port),
         "--require-registration"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + PROVIDER_STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"oidc_provider_mock exited early:\n{Path(log.name).read_text()[-3000:]}")
            try:
                _http("GET", f"{url}/.well-known/openid-configuration")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no OpenID provider at {url} within {PROVIDER_STARTUP_TIMEOUT_S} s") from None
                time.sleep(0.2)
        for person in (ADMIN, VIEWER):
            status, _ = _http("PUT", f"{url}/users/{urllib.parse.quote(person['email'])}",
                              {**person, "email_verified": True})
            assert status == 204
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def team_server(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard in team mode, registered with the provider, Ann an admin."""
    workdir = tmp_path_factory.mktemp("team-app")
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/oauth2callback"
    status, body = _http("POST", f"{provider}/oauth2/clients", {"redirect_uris": [redirect_uri]})
    assert status == 201
    client = json.loads(body)
    secrets_file = workdir / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{redirect_uri}"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'client_id = "{client["client_id"]}"\n'
        f'client_secret = "{client["client_secret"]}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    templates = workdir / "templates"
    templates.mkdir()
    (templates / "tiny-menu.yaml").write_text((ROOT / "tests" / "app" / "small_family.yaml").read_text())
    env = {
        "PROMPTKIT_MODE": "team",
        "PROMPTKIT_ADMINS": f"  {ADMIN['email'].upper()} , someone@example.org",
        "PROMPTKIT_MODEL": "tiny:gemma3",
        "STREAMLIT_SECRETS_FILES": str(secrets_file),
        "PROMPTKIT_TEMPLATES_DIR": str(templates),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PROMPTKIT_DEFAULT_ROLE", raising=False)  # so Bo gets the default role, viewer
        with running_server(workdir, env, port=port) as running:
            yield running


def _new_page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context.new_page()


def _wait_idle(page: Any) -> None:
    """Waits until the script run is over: no element is marked stale any more."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => document.querySelectorAll('[data-stale=\"true\"]').length === 0")
    page.wait_for_timeout(300)


def _assert_sign_in_page_only(page: Any) -> None:
    page.get_by_role("button", name="Sign in").wait_for()
    _wait_idle(page)
    text = page.locator("body").inner_text()
    assert "Sign in to see your team's prompt templates" in text
    shown = [word for word in PRIVATE_TEXT if word.lower() in text.lower()]
    assert not shown, f"the sign-in page shows {shown}:\n{text}"
    assert page.get_by_role("button").count() == 1, page.get_by_role("button").all_inner_texts()
    assert page.get_by_role("button", name="Sign in").count() == 1
    assert page.locator("[data-testid='stSidebar']").count() == 0
    assert page.locator("[data-testid='stSidebarNav']").count() == 0
    assert page.locator("textarea, input").count() == 0
    assert page.locator(".stException").count() == 0


def _sign_in(page: Any, server: Server, provider: str, email: str) -> None:
    """From the sign-in page, through the provider's form, back to the dashboard signed in."""
    page.goto(server.url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{provider}/oauth2/authorize?*")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert query["redirect_uri"] == [f"{server.url}/oauth2callback"]
    assert set(query["scope"][0].split()) >= {"openid", "email", "profile"}
    page.get_by_placeholder("sub").fill(email)
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url(f"{server.url}/**")
    page.get_by_text("Signed in as").wait_for()


def _signed_in_caption(page: Any) -> str:
    return page.locator("[data-testid='stSidebar']").get_by_text("Signed in as").inner_text()


def test_visitor_not_signed_in_sees_only_the_sign_in_page(browser, team_server, artifacts):
    page = _new_page(browser)
    page.goto(team_server.url)
    _assert_sign_in_page_only(page)
    page.screenshot(path=str(artifacts / "10-sign-in.png"), full_page=True)
    # Another page's address shows the same sign-in page.
    page.goto(f"{team_server.url}/history")
    _assert_sign_in_page_only(page)
    page.context.close()


def test_two_people_sign_in_each_with_their_role(browser, team_server, provider, artifacts):
    admin_page = _new_page(browser)
    _sign_in(admin_page, team_server, provider, ADMIN["email"])
    admin_page.get_by_text(re.compile(r"Loaded in \d")).first.wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    _wait_idle(admin_page)
    assert _signed_in_caption(admin_page) == f"Signed in as {ADMIN['name']} ({ADMIN['email']}) · admin"
    assert admin_page.get_by_role("button", name="Sign out").count() == 1
    assert admin_page.locator("[data-testid='stSidebarNav']").get_by_text("Playground").count() == 1
    assert admin_page.locator(".stException").count() == 0
    admin_page.screenshot(path=str(artifacts / "11-signed-in-admin.png"), full_page=True)

    viewer_page = _new_page(browser)
    _sign_in(viewer_page, team_server, provider, VIEWER["email"])
    viewer_page.get_by_text(re.compile(r"Loaded in \d")).first.wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    _wait_idle(viewer_page)
    assert _signed_in_caption(viewer_page) == f"Signed in as {VIEWER['name']} ({VIEWER['email']}) · viewer"
    assert viewer_page.locator(".stException").count() == 0
    viewer_page.screenshot(path=str(artifacts / "12-signed-in-viewer.png"), full_page=True)

    # Each browser keeps its own person.
    admin_page.reload()
    admin_page.get_by_text("Signed in as").wait_for()
    assert ADMIN["name"] in _signed_in_caption(admin_page)

    with Store.open(url=f"sqlite:///{team_server.env['PROMPTKIT_DB']}") as store:
        people = {person.key: person for person in store.list_people()}
    assert people[ADMIN["email"]].name == ADMIN["name"]
    assert people[ADMIN["email"]].role is Role.ADMIN
    assert people[VIEWER["email"]].name == VIEWER["name"]
    assert people[VIEWER["email"]].role is Role.VIEWER
    # The name a local-mode browser remembers plays no part in team mode.
    assert not [c for page in (admin_page, viewer_page) for c in page.context.cookies() if c["name"] == "promptkit_name"]
    admin_page.context.close()
    viewer_page.context.close()


def test_sign_out_returns_to_the_sign_in_page(browser, team_server, provider):
    page = _new_page(browser)
    _sign_in(page, team_server, provider, VIEWER["email"])
    assert any(AUTH_COOKIE.match(cookie["name"]) for cookie in page.context.cookies())
    page.get_by_role("button", name="Sign out").click()
    # Streamlit ends the session at the provider too (its end_session_endpoint), which asks to confirm.
    page.wait_for_url(f"{provider}/oauth2/end_session?*")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{team_server.url}/**")
    _assert_sign_in_page_only(page)
    assert not any(AUTH_COOKIE.match(cookie["name"]) for cookie in page.context.cookies())
    page.reload()
    _assert_sign_in_page_only(page)
    page.context.close()


def test_a_session_whose_cookie_is_removed_is_signed_out_on_reload(browser, team_server, provider):
    page = _new_page(browser)
    _sign_in(page, team_server, provider, ADMIN["email"])
    page.reload()
    page.get_by_text("Signed in as").wait_for()  # the cookie alone keeps one signed in
    page.context.clear_cookies(name=AUTH_COOKIE)
    assert not any(AUTH_COOKIE.match(cookie["name"]) for cookie in page.context.cookies())
    page.reload()
    _assert_sign_in_page_only(page)
    page.context.close()


def test_an_editor_sets_a_blind_review_and_a_reviewer_completes_it_from_the_keyboard_through_its_link(
    browser, team_server, provider, artifacts
):
    editor = _new_page(browser)
    _sign_in(editor, team_server, provider, ADMIN["email"])
    editor.goto(f"{team_server.url}/compare")
    editor.get_by_text(re.compile(r"Loaded in \d")).first.wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    _wait_idle(editor)
    editor.get_by_role("button", name="Run comparison").click()
    editor.get_by_text("Blind review by your team").wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    _wait_idle(editor)
    editor.get_by_text("Ask reviewers for a blind A/B review of this comparison").click()
    create = editor.get_by_role("button", name="Create review task")
    create.wait_for()
    _wait_idle(editor)  # a click on a form still being drawn can be lost
    create.click()
    link = editor.get_by_role("link", name=re.compile(r"Task #\d+: v1 vs v2, v1 vs v3 over 1 case\(s\), asking every reviewer"))
    link.wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    _wait_idle(editor)
    assert editor.locator(".stException").count() == 0
    editor.screenshot(path=str(artifacts / "13-review-task-created.png"), full_page=True)
    task_url = urllib.parse.urljoin(editor.url, link.get_attribute("href"))  # the link the editor sends
    assert re.search(r"/reviews\?task=\d+$", task_url), task_url

    # Bo is a viewer: the editor (an admin) makes him a reviewer on the People page.
    reviewer = _new_page(browser)
    _sign_in(reviewer, team_server, provider, VIEWER["email"])
    editor.goto(f"{team_server.url}/people")
    editor.get_by_role("button", name="Change role").wait_for()
    _wait_idle(editor)
    editor.locator('[data-testid="stSelectbox"]').filter(has_text="Person").click()
    editor.get_by_role("option", name=VIEWER["name"]).click()
    editor.get_by_role("button", name="Change role").click()
    editor.get_by_text(f"{VIEWER['name']} now has the reviewer role").wait_for()

    reviewer.goto(task_url)
    reviewer.get_by_text("Item 1 of 2").wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    _wait_idle(reviewer)
    body = reviewer.locator("[data-testid='stMain']").inner_text()
    for hidden in ("plain", "with-dislikes", "polite", "v2", "v3"):  # which version wrote which stays hidden
        assert hidden not in body.replace(task_url, ""), hidden
    reviewer.screenshot(path=str(artifacts / "14-blind-review-item.png"), full_page=True)
    verdict = reviewer.get_by_role("textbox", name=re.compile("Your verdict: 1 left is better"))
    verdict.fill("1")
    verdict.press("Enter")
    reviewer.get_by_text("Item 2 of 2").wait_for()
    _wait_idle(reviewer)
    verdict = reviewer.get_by_role("textbox", name=re.compile("Your verdict: 1 left is better"))
    verdict.fill("3")
    verdict.press("Enter")
    reviewer.get_by_text("You have judged every item of this task").wait_for()
    reviewer.locator(".js-plotly-plot").first.wait_for()
    _wait_idle(reviewer)
    assert reviewer.locator(".stException").count() == 0
    reviewer.screenshot(path=str(artifacts / "15-review-results.png"), full_page=True)
    with Store.open(url=f"sqlite:///{team_server.env['PROMPTKIT_DB']}") as store:
        (task,) = store.list_review_tasks()
        judgements = store.list_judgements(task.id)
        cells = store.get_comparison(task.comparison_id).cells
    assert [c.error for c in cells] == [None] * 3 and all(c.run_id is not None for c in cells)  # real completions
    assert [(j.reviewer, j.verdict in ("a", "b"), j.verdict == "tie") for j in judgements] == [
        (VIEWER["email"], True, False), (VIEWER["email"], False, True),
    ]
    editor.context.close()
    reviewer.context.close()


def test_a_reviewer_scores_a_rubric_task_from_the_keyboard(browser, team_server, provider, artifacts):
    editor = _new_page(browser)
    _sign_in(editor, team_server, provider, ADMIN["email"])
    reviewer = _new_page(browser)
    _sign_in(reviewer, team_server, provider, VIEWER["email"])
    with Store.open(url=f"sqlite:///{team_server.env['PROMPTKIT_DB']}") as store:  # as the People page does
        store.set_role(actor=ADMIN["email"], key=VIEWER["email"], role=Role.REVIEWER)
    editor.goto(f"{team_server.url}/compare")
    editor.get_by_text(re.compile(r"Loaded in \d")).first.wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    _wait_idle(editor)
    editor.get_by_role("button", name="Run comparison").click()
    editor.get_by_text("Blind review by your team").wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    _wait_idle(editor)
    editor.get_by_text("Ask reviewers to score the answers on this family's criteria (1–5)").click()
    create = editor.get_by_role("button", name="Create rubric task")
    create.wait_for()
    _wait_idle(editor)
    create.click()
    link = editor.get_by_role("link", name=re.compile(r"Task #\d+: scores of v1, v2, v3 on respects the dislikes, tone"))
    link.wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    task_url = urllib.parse.urljoin(editor.url, link.get_attribute("href"))

    reviewer.goto(task_url)
    for position, (dislikes, tone) in enumerate((("4", "5"), ("2", "3"), ("5", "5")), start=1):
        reviewer.get_by_text(f"Item {position} of 3").wait_for(timeout=MODEL_READY_TIMEOUT_MS)
        _wait_idle(reviewer)
        body = reviewer.locator("[data-testid='stMain']").inner_text().replace(task_url, "")
        for hidden in ("plain", "with-dislikes", "polite", "v1", "v2", "v3"):  # which version wrote it stays hidden
            assert hidden not in body, hidden
        if position == 1:
            reviewer.screenshot(path=str(artifacts / "18-rubric-item.png"), full_page=True)
        first = reviewer.get_by_role("textbox", name=re.compile(r"^respects the dislikes \(1–5\)"))
        first.click()
        reviewer.keyboard.type(dislikes)
        reviewer.keyboard.press("Tab")  # on to the next criterion
        reviewer.keyboard.type(tone)
        reviewer.keyboard.press("Enter")  # saves and opens the next item
        reviewer.get_by_text(re.compile(r"Saved your scores")).wait_for()
    reviewer.get_by_text("You have judged every item of this task").wait_for()
    reviewer.locator(".js-plotly-plot").first.wait_for()
    _wait_idle(reviewer)
    assert reviewer.locator(".stException").count() == 0
    picked = reviewer.locator("[data-testid='stMain'] [data-testid='stSelectbox'] input")
    assert picked.input_value().endswith("· 3 of 3 judged"), picked.input_value()  # the queue's progress is current
    reviewer.screenshot(path=str(artifacts / "19-rubric-results.png"), full_page=True)
    with Store.open(url=f"sqlite:///{team_server.env['PROMPTKIT_DB']}") as store:
        task = store.get_review_task(int(task_url.rsplit("=", 1)[1]))
        scored = store.list_rubric_judgements(task.id)
    assert task.mode == "rubric"
    assert sorted((j.scores["respects the dislikes"], j.scores["tone"]) for j in scored) == [(2, 3), (4, 5), (5, 5)]
    assert {j.reviewer for j in scored} == {VIEWER["email"]} and len({j.version for j in scored}) == 3
    editor.context.close()
    reviewer.context.close()
