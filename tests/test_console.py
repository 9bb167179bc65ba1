"""The console (`/console`) in a real browser: Debian's chromium, driven by Playwright, against
the real server with auth on.

Signing in, a key made then revoked (and refused after), a quota set (and enforced), a
streamed playground request, and the usage page counting it; every page is shown at a
laptop's width and a phone's, with nothing fetched from any other host. Screenshots go to
`test-results/console/` (or `$OPENVERTEX_SCREENSHOTS`). Playwright never downloads a browser
here: it drives `/usr/bin/chromium` (`apt-get install chromium`; `.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import google.auth.transport.requests
import httpx
import openai
import pytest
from conftest import Server, ledger, openvertex_cli, start_server, stop_server
from google.oauth2 import service_account

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("OPENVERTEX_SCREENSHOTS", Path(__file__).parents[1] / "test-results"))
LAPTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
PAGES = ("usage", "projects", "models", "playground")
PROJECT = "console-test"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="no Debian chromium (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("console"), "--parallel", "2")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def admin_key(console_server: Server) -> str:
    out = openvertex_cli(
        console_server, "apikeys", "create", "--project", "openvertex-local", "--admin"
    )
    return out.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip("no Debian chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--disable-gpu",
                "--no-first-run",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, console_server: Server, admin_key: str) -> Iterator:
    """One signed-in tab for the whole flow; every request it makes is kept."""
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{console_server.url}/console")
    page.fill("#admin-key", "AIza-not-a-key")
    page.click("#sign-in")
    page.wait_for_selector("#login-error:has-text('not valid')")
    page.fill("#admin-key", admin_key)
    page.click("#sign-in")
    page.wait_for_selector("#page-usage", state="visible")
    yield page
    context.close()


def show(page, name: str) -> None:
    page.click(f"nav a[data-page={name}]")
    page.wait_for_selector(f"#page-{name}", state="visible")


def shoot(page, name: str) -> None:
    """The page as it looks now, at a laptop's width and then a phone's."""
    (SHOTS / "console").mkdir(parents=True, exist_ok=True)
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=SHOTS / "console" / f"{name}-{label}.png", full_page=True)
        # Usable at that width: wide tables scroll in their own box, the page never sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    page.set_viewport_size(LAPTOP)


def new_api_key(page, project: str) -> str:
    """Create an API key in the page; the secret it shows once."""
    page.fill("#new-project", project)
    page.click("#new-project-apikey")
    secret = page.wait_for_selector("#new-secret:has-text('AIza')").text_content().strip()
    page.click("#secret-close")
    return secret


def test_admin_api_needs_an_admin_key(console_server: Server, admin_key: str) -> None:
    api = f"{console_server.url}/console/api"
    assert (
        httpx.get(f"{console_server.url}/console").headers["content-type"].startswith("text/html")
    )
    assert httpx.get(f"{api}/session").status_code == 401
    plain = openvertex_cli(console_server, "apikeys", "create", "--project", "openvertex-local")
    refused = httpx.get(f"{api}/session", headers={"x-goog-api-key": plain.split()[-1]})
    assert refused.status_code == 403
    assert refused.json()["error"]["status"] == "PERMISSION_DENIED"
    admin = {"x-goog-api-key": admin_key}
    assert httpx.get(f"{api}/session", headers=admin).json()["principal"].startswith("apikey:")
    for quota in ({"rpm": -1}, {"tpm": 2**31}, {"rpm": "many"}):
        assert (
            httpx.put(f"{api}/projects/{PROJECT}/quota", headers=admin, json=quota).status_code
            == 400
        )
    for project in ("Not_A_Project", "abcdef%0A"):
        assert httpx.post(f"{api}/projects/{project}/apikeys", headers=admin).status_code == 400
    for key_id in ("nosuchkey", "%00", "0123456789ab"):
        assert httpx.delete(f"{api}/apikeys/{key_id}", headers=admin).status_code == 404
    grant = httpx.post(f"{api}/projects/{PROJECT}/grants", headers=admin, content=b"{not json")
    assert grant.status_code == 400


def test_without_auth_the_console_is_open_to_its_own_page_only(server: Server) -> None:
    """Under --no-auth (loopback only) no key is asked for; another site's page in the
    operator's browser is still refused, and no site may frame the console."""
    session = httpx.get(f"{server.url}/console/api/session").json()
    assert session["auth"] is False and session["principal"] == "anonymous"
    made = f"{server.url}/console/api/projects/{PROJECT}/apikeys"
    assert httpx.post(made, headers={"Origin": "https://evil.example"}).status_code == 403
    assert httpx.post(made, headers={"Origin": server.url}).status_code == 200
    page = httpx.get(f"{server.url}/console")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_key_made_then_revoked_is_refused(page, console_server: Server) -> None:
    show(page, "projects")
    secret = new_api_key(page, PROJECT)
    client = openai.OpenAI(
        base_url=console_server.vertex_base.replace("test-project", PROJECT),
        api_key=secret,
        max_retries=0,
    )
    ask = {"model": "google/gemini-2.0-flash-001", "messages": [{"role": "user", "content": "Hi"}]}
    assert client.chat.completions.create(**ask, max_tokens=2).usage.completion_tokens > 0
    projects = httpx.get(
        f"{console_server.url}/console/api/projects", headers={"x-goog-api-key": _admin(page)}
    ).json()["projects"]
    [key] = next(p for p in projects if p["project"] == PROJECT)["api_keys"]
    key_id = key["key_id"]
    row = page.locator(f"tr[data-api-key-id='{key_id}']")
    row.locator(".revoke-apikey").click()
    page.wait_for_selector(f"tr[data-api-key-id='{key_id}'] .status:has-text('revoked')")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(**ask, max_tokens=2)


def test_a_key_file_downloaded_once_works_with_google_auth(page, console_server: Server) -> None:
    show(page, "projects")
    card = page.locator(f".project[data-project='{PROJECT}']")
    card.locator(".new-key-name").fill("console-robot")
    with page.expect_download() as download:
        card.locator(".new-key").click()
    credentials = service_account.Credentials.from_service_account_file(
        download.value.path(), scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    credentials.refresh(google.auth.transport.requests.Request())  # from this server's /token
    client = openai.OpenAI(
        base_url=console_server.vertex_base.replace("test-project", PROJECT),
        api_key=credentials.token,
        max_retries=0,
    )
    models = client.models.list()
    assert models.data
    page.locator(f"tr[data-key-id='{credentials._signer.key_id}'] .revoke-key").click()
    page.wait_for_selector(
        f"tr[data-key-id='{credentials._signer.key_id}'] .status:has-text('revoked')"
    )
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_a_quota_set_in_the_console_applies_at_once(page, console_server: Server) -> None:
    show(page, "projects")
    project = "console-quota"
    secret = new_api_key(page, project)
    card = page.locator(f".project[data-project='{project}']")
    card.locator(".quota-rpm").fill("1")
    card.locator(".quota-save").click()
    page.wait_for_selector(f".project[data-project='{project}'] .quota-current:has-text('rpm 1')")
    client = openai.OpenAI(
        base_url=console_server.vertex_base.replace("test-project", project),
        api_key=secret,
        max_retries=0,
    )
    ask = {"model": "google/gemini-2.0-flash-001", "messages": [{"role": "user", "content": "Hi"}]}
    client.chat.completions.create(**ask, max_tokens=1)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(**ask, max_tokens=1)
    shoot(page, "projects")


def test_the_playground_streams_a_reply_with_its_usage(page, console_server: Server) -> None:
    show(page, "playground")
    page.select_option("#pg-model", "google/gemini-2.0-flash-001")
    page.fill("#pg-system", "You are a helpful assistant.")
    page.fill("#pg-prompt", "Name three colours.")
    page.fill("#pg-max-tokens", "24")
    page.click("#pg-send")
    page.wait_for_selector("#pg-result[data-state=done]", timeout=120_000)
    assert page.text_content("#pg-output").strip()
    assert "completion" in page.text_content("#pg-usage")
    assert not page.text_content("#pg-error").strip()
    page.click("#pg-code-openai")
    code = page.text_content("#pg-code")
    assert "openai.OpenAI(" in code and f"{console_server.url}/v1/projects/" in code
    page.click("#pg-code-genai")
    code = page.text_content("#pg-code")
    assert "genai.Client(" in code and "Name three colours." in code
    shoot(page, "playground")
    rows = [r for r in ledger(console_server) if r["principal"].startswith("apikey:")]
    assert any(r["completion_tokens"] > 0 and r["status"] == 200 for r in rows)


def test_the_usage_page_counts_what_the_ledger_holds(page, console_server: Server) -> None:
    show(page, "usage")
    page.click("#usage-refresh")
    admin = f"apikey:{_admin_id(console_server)}"
    row = page.locator(f"#usage-totals tr[data-principal='{admin}']")
    row.wait_for(timeout=10_000)
    cells = row.locator("td").all_text_contents()
    printed = openvertex_cli(console_server, "usage")
    line = next(line for line in printed.splitlines() if admin in line)
    # project, principal, model, then the same counts as `openvertex usage` prints
    assert cells[3:8] == line.replace("│", " ").split()[3:8]
    assert int(page.text_content("#usage-requests")) == len(ledger(console_server))
    shoot(page, "usage")


def test_the_models_page_says_what_runs_underneath(page) -> None:
    show(page, "models")
    served = page.locator("#models-served tr[data-model='google/gemini-2.0-flash-001']")
    served.wait_for(timeout=10_000)
    assert "llama.cpp" in served.text_content()
    assert "qwen2.5-coder-1.5b" in page.text_content("#models-catalog")
    shoot(page, "models")


def test_nothing_comes_from_another_host(page, console_server: Server) -> None:
    for name in PAGES:
        show(page, name)
    origin = urlsplit(console_server.url).netloc
    assert {urlsplit(url).netloc for url in page.requests if url.startswith("http")} == {origin}
    assert page.errors == []


def _admin(page) -> str:
    return page.evaluate("sessionStorage.getItem('openvertex.key')")


def _admin_id(server: Server) -> str:
    listed = openvertex_cli(server, "apikeys", "list")
    return next(line for line in listed.splitlines() if "yes" in line).replace("│", " ").split()[0]
