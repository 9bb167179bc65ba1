"""Every way in that should be shut is shut, against a real server with authentication on.

Assertions are forged with PyJWT (or by hand, where PyJWT refuses), tokens come from real
google-auth, keys and grants are made with the real CLI on the server's own data dir.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google.auth.transport.requests
import httpx
import jwt
import openai
import pytest
from conftest import LOCATION, MODEL, Server
from conftest import openvertex_cli as cli
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_PROJECT = "openvertex-local"
HELLO = {"model": MODEL, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 1}
DROP = object()  # a claim override that removes the claim


# --- helpers ---------------------------------------------------------------------------------


def new_project() -> str:
    return f"refusal-{secrets.token_hex(4)}"


def new_key_file(server: Server, tmp_path: Path, project: str = DEFAULT_PROJECT) -> Path:
    path = tmp_path / f"{project}-{secrets.token_hex(4)}.json"
    cli(server, "keys", "create", "--project", project, "--name", "refusal-tester",
        "--out", str(path), "--server-url", server.url)  # fmt: skip
    return path


def new_api_key(server: Server, project: str = DEFAULT_PROJECT) -> tuple[str, str]:
    """A fresh API key: (the secret, its key id)."""
    out = cli(server, "apikeys", "create", "--project", project)
    key_id = re.search(r"API key (\w+) for project", out)
    assert key_id, out
    return out.strip().splitlines()[-1], key_id.group(1)


def google_token(key_file: Path) -> str:
    """An access token exactly as google-auth gets one from the key file's token_uri."""
    credentials = service_account.Credentials.from_service_account_file(
        str(key_file), scopes=[SCOPE]
    )
    credentials.refresh(google.auth.transport.requests.Request())
    return credentials.token


def claims_for(key: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": key["client_email"],
        "aud": GOOGLE_TOKEN_URI,
        "scope": SCOPE,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not DROP}


def sign(key: dict[str, Any], claims: dict[str, Any], private_key: Any = None) -> str:
    return jwt.encode(
        claims,
        private_key or key["private_key"],
        algorithm="RS256",
        headers={"kid": key["private_key_id"]},
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


def post_token(
    server: Server, assertion: str | None, grant_type: str = JWT_BEARER
) -> httpx.Response:
    form = {"grant_type": grant_type}
    if assertion is not None:
        form["assertion"] = assertion
    return httpx.post(f"{server.url}/token", data=form, timeout=30)


def assert_oauth_error(response: httpx.Response, error: str, needle: str = "") -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error
    description = body["error_description"]
    assert isinstance(description, str) and len(description) > 10
    assert needle.lower() in description.lower(), description
    assert "access_token" not in body
    return description


def vertex_url(server: Server, project: str) -> str:
    return f"{server.url}/v1/projects/{project}/locations/{LOCATION}/endpoints/openapi"


def chat(url: str, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("json", HELLO)
    return httpx.post(f"{url}/chat/completions", headers=headers, timeout=120, **kwargs)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def assert_envelope(
    response: httpx.Response, code: int, status: str, reason: str | None = None
) -> dict[str, Any]:
    """Google's error envelope; `reason` is the google.rpc.ErrorInfo reason in `details`."""
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    if code == 401:
        assert response.headers["www-authenticate"].lower().startswith("bearer")
    if reason is not None:
        infos = [d for d in error["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
        assert [info["reason"] for info in infos] == [reason], error
    return error


def assert_served(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["finish_reason"] in ("stop", "length")


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_key(auth_server: Server) -> dict[str, Any]:
    return json.loads(auth_server.default_key_file.read_text())


@pytest.fixture(scope="module")
def default_token(auth_server: Server) -> str:
    return google_token(auth_server.default_key_file)


@pytest.fixture(scope="module")
def local_url(auth_server: Server) -> str:
    return vertex_url(auth_server, DEFAULT_PROJECT)


@pytest.fixture(scope="module", autouse=True)
def still_serving(auth_server: Server, default_token: str) -> Iterator[None]:
    """After every refusal in this module, a valid request is still served."""
    yield
    assert_served(chat(vertex_url(auth_server, DEFAULT_PROJECT), bearer(default_token)))


# --- the token endpoint: good assertions -------------------------------------------------------


@pytest.mark.parametrize("aud", ["google", "server"])
def test_hand_made_assertion_gets_a_token(
    auth_server: Server, default_key: dict[str, Any], local_url: str, aud: str
) -> None:
    audience = GOOGLE_TOKEN_URI if aud == "google" else f"{auth_server.url}/token"
    response = post_token(auth_server, sign(default_key, claims_for(default_key, aud=audience)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["expires_in"] == 3599
    assert body["token_type"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    assert_served(chat(local_url, bearer(body["access_token"])))


# --- the token endpoint: forged or stale assertions ----------------------------------------------


def test_signed_by_another_key(auth_server: Server, default_key: dict[str, Any]) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = sign(default_key, claims_for(default_key), private_key=stranger)
    assert_oauth_error(post_token(auth_server, forged), "invalid_grant", "signature")


def test_unknown_kid(auth_server: Server, default_key: dict[str, Any]) -> None:
    unknown = {**default_key, "private_key_id": secrets.token_hex(20)}
    response = post_token(auth_server, sign(unknown, claims_for(default_key)))
    assert_oauth_error(response, "invalid_grant", unknown["private_key_id"])


def test_alg_none(auth_server: Server, default_key: dict[str, Any]) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": default_key["private_key_id"]}
    forged = unsigned(header, claims_for(default_key)) + "."
    assert_oauth_error(post_token(auth_server, forged), "invalid_grant", "RS256")


def test_hs256_with_the_public_key_as_secret(
    auth_server: Server, default_key: dict[str, Any]
) -> None:
    """The classic confusion attack: the server's own public key used as an HMAC secret."""
    private = serialization.load_pem_private_key(default_key["private_key"].encode(), None)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": default_key["private_key_id"]}
    signing_input = unsigned(header, claims_for(default_key))
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64url(mac)}"
    assert_oauth_error(post_token(auth_server, forged), "invalid_grant", "RS256")


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"iat": -70 * 60, "exp": -10 * 60}, "expired"),
        ({"iat": 10 * 60, "exp": 70 * 60}, "future"),
        ({"iat": 0, "exp": 7200}, "hour"),
    ],
    ids=["expired", "issued-in-future", "lifetime-two-hours"],
)
def test_assertion_times(
    auth_server: Server, default_key: dict[str, Any], overrides: dict[str, int], needle: str
) -> None:
    now = int(time.time())
    claims = claims_for(default_key, **{k: now + v for k, v in overrides.items()})
    assert_oauth_error(post_token(auth_server, sign(default_key, claims)), "invalid_grant", needle)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"iss": "intruder@openvertex-local.iam.gserviceaccount.com"}, "iss"),
        ({"aud": "https://example.com/token"}, "aud"),
        ({"scope": DROP}, "scope"),
        ({"scope": "https://www.googleapis.com/auth/userinfo.email"}, "scope"),
    ],
    ids=["wrong-iss", "wrong-aud", "no-scope", "other-scope-only"],
)
def test_assertion_claims(
    auth_server: Server, default_key: dict[str, Any], overrides: dict[str, Any], needle: str
) -> None:
    forged = sign(default_key, claims_for(default_key, **overrides))
    assert_oauth_error(post_token(auth_server, forged), "invalid_grant", needle)


def test_aud_cannot_be_chosen_by_the_host_header(
    auth_server: Server, default_key: dict[str, Any]
) -> None:
    forged = sign(default_key, claims_for(default_key, aud="http://evil.example/token"))
    response = httpx.post(
        f"{auth_server.url}/token",
        data={"grant_type": JWT_BEARER, "assertion": forged},
        headers={"Host": "evil.example"},
    )
    assert_oauth_error(response, "invalid_grant", "aud")


def test_revoked_key_gets_no_token(auth_server: Server, tmp_path: Path) -> None:
    key_file = new_key_file(auth_server, tmp_path)
    key = json.loads(key_file.read_text())
    assert post_token(auth_server, sign(key, claims_for(key))).status_code == 200
    cli(auth_server, "keys", "revoke", key["private_key_id"])
    response = post_token(auth_server, sign(key, claims_for(key)))
    assert_oauth_error(response, "invalid_grant", "revoked")


def test_google_auth_raises_refresh_error_with_the_description(
    auth_server: Server, tmp_path: Path
) -> None:
    key_file = new_key_file(auth_server, tmp_path)
    cli(auth_server, "keys", "revoke", json.loads(key_file.read_text())["private_key_id"])
    with pytest.raises(RefreshError) as caught:
        google_token(key_file)
    assert "invalid_grant" in str(caught.value)
    assert "has been revoked" in str(caught.value)


def test_wrong_grant_type(auth_server: Server, default_key: dict[str, Any]) -> None:
    response = post_token(
        auth_server, sign(default_key, claims_for(default_key)), grant_type="client_credentials"
    )
    assert_oauth_error(response, "unsupported_grant_type", JWT_BEARER)


def test_missing_assertion(auth_server: Server) -> None:
    assert_oauth_error(post_token(auth_server, None), "invalid_request", "assertion")


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_garbage_assertion(auth_server: Server, garbage: str) -> None:
    assert_oauth_error(post_token(auth_server, garbage), "invalid_grant")


# --- API routes with access tokens ----------------------------------------------------------------


def test_no_credentials(local_url: str) -> None:
    error = assert_envelope(chat(local_url), 401, "UNAUTHENTICATED", "CREDENTIALS_MISSING")
    assert "credentials" in error["message"].lower()


@pytest.mark.parametrize(
    "authorization",
    ["Basic abc", "Bearer", "Bearerxyz", "ya29.no-scheme"],
    ids=["basic", "bearer-alone", "no-space", "no-scheme"],
)
def test_malformed_authorization_header(local_url: str, authorization: str) -> None:
    assert_envelope(chat(local_url, {"Authorization": authorization}), 401, "UNAUTHENTICATED")


def test_random_token(local_url: str) -> None:
    response = chat(local_url, bearer("ya29." + secrets.token_urlsafe(32)))
    assert_envelope(response, 401, "UNAUTHENTICATED", "ACCESS_TOKEN_TYPE_UNSUPPORTED")


def test_refused_before_the_body_is_read(local_url: str) -> None:
    """Credentials are checked first: a broken body still gets 401, not 400."""
    response = chat(local_url, content=b"{not json", json=None)
    assert_envelope(response, 401, "UNAUTHENTICATED")


def test_refusals_never_reach_the_model(
    auth_server: Server, local_url: str, default_token: str
) -> None:
    """Each refused request carries a ~3000-token prompt, whose prefill alone takes seconds on
    this CPU; all of them together answer at once, so none of them reached the model."""
    refusals = [
        (local_url, {}, 401),
        (local_url, bearer("ya29." + secrets.token_urlsafe(32)), 401),
        (local_url, bearer("AIza" + secrets.token_urlsafe(32)), 401),
        (local_url, {"x-goog-api-key": "not-a-key"}, 401),
        (vertex_url(auth_server, new_project()), bearer(default_token), 403),
    ]
    started = time.perf_counter()
    for i, (url, headers, code) in enumerate(refusals):
        long_prompt = f"{i} " + "word " * 3000  # a different prefix each: no prompt cache
        body = {**HELLO, "messages": [{"role": "user", "content": long_prompt}]}
        assert chat(url, headers, json=body).status_code == code
    assert time.perf_counter() - started < 3


def test_token_of_revoked_key_stops_at_once(
    auth_server: Server, tmp_path: Path, local_url: str
) -> None:
    key_file = new_key_file(auth_server, tmp_path)
    token = google_token(key_file)
    assert_served(chat(local_url, bearer(token)))
    cli(auth_server, "keys", "revoke", json.loads(key_file.read_text())["private_key_id"])
    assert_envelope(chat(local_url, bearer(token)), 401, "UNAUTHENTICATED")


def test_other_project_needs_a_grant(auth_server: Server, tmp_path: Path) -> None:
    project_a, project_b = new_project(), new_project()
    key_file = new_key_file(auth_server, tmp_path, project_a)
    token = google_token(key_file)
    assert_served(chat(vertex_url(auth_server, project_a), bearer(token)))
    assert_served(chat(f"{auth_server.url}/v1", bearer(token)))  # its own project applies

    response = chat(vertex_url(auth_server, project_b), bearer(token))
    error = assert_envelope(response, 403, "PERMISSION_DENIED", "IAM_PERMISSION_DENIED")
    assert project_b in error["message"]

    email = json.loads(key_file.read_text())["client_email"]
    cli(auth_server, "projects", "grant", project_b, email)
    assert_served(chat(vertex_url(auth_server, project_b), bearer(token)))
    # a grant on B gives nothing on a third project
    assert chat(vertex_url(auth_server, new_project()), bearer(token)).status_code == 403


def test_sdk_sees_authentication_error(local_url: str) -> None:
    client = openai.OpenAI(base_url=local_url, api_key="ya29.random", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(**HELLO)
    assert caught.value.status_code == 401
    assert caught.value.body["status"] == "UNAUTHENTICATED"


def test_sdk_sees_permission_denied(auth_server: Server, default_token: str) -> None:
    client = openai.OpenAI(
        base_url=vertex_url(auth_server, new_project()), api_key=default_token, max_retries=0
    )
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(**HELLO)
    assert caught.value.status_code == 403
    assert caught.value.body["status"] == "PERMISSION_DENIED"


# --- API keys ---------------------------------------------------------------------------------


def test_api_key_ways_in_and_revocation(auth_server: Server, local_url: str) -> None:
    secret, key_id = new_api_key(auth_server)
    assert secret.startswith("AIza")
    assert_served(chat(local_url, bearer(secret)))
    assert_served(chat(local_url, {"x-goog-api-key": secret}))
    client = openai.OpenAI(base_url=local_url, api_key=secret, max_retries=0, timeout=120)
    assert client.chat.completions.create(**HELLO).choices[0].finish_reason in ("stop", "length")

    other = vertex_url(auth_server, new_project())
    for headers in (bearer(secret), {"x-goog-api-key": secret}):
        assert_envelope(chat(other, headers), 403, "PERMISSION_DENIED", "IAM_PERMISSION_DENIED")

    cli(auth_server, "apikeys", "revoke", key_id)
    for headers in (bearer(secret), {"x-goog-api-key": secret}):
        assert_envelope(chat(local_url, headers), 401, "UNAUTHENTICATED", "API_KEY_INVALID")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(**HELLO)


def test_models_need_credentials(auth_server: Server, local_url: str) -> None:
    secret, _ = new_api_key(auth_server)
    for url in (f"{auth_server.url}/v1/models", f"{local_url}/models"):
        assert_envelope(httpx.get(url), 401, "UNAUTHENTICATED", "CREDENTIALS_MISSING")
        response = httpx.get(url, headers={"x-goog-api-key": secret})
        assert response.status_code == 200, response.text
        assert MODEL in [m["id"] for m in response.json()["data"]]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_needs_no_credentials(auth_server: Server, path: str) -> None:
    assert httpx.get(f"{auth_server.url}{path}").status_code == 200


# --- secrets are never written down ------------------------------------------------------------


def test_secrets_are_not_stored_or_logged(
    auth_server: Server, default_key: dict[str, Any], local_url: str
) -> None:
    response = post_token(auth_server, sign(default_key, claims_for(default_key)))
    token = response.json()["access_token"]
    secret, key_id = new_api_key(auth_server)
    assert_served(chat(local_url, bearer(token)))
    assert_served(chat(local_url, {"x-goog-api-key": secret}))

    files = sorted(auth_server.data_dir.glob("openvertex.db*"))  # the db, -wal, -shm
    stored = b"".join(path.read_bytes() for path in files)
    assert key_id.encode() in stored, "the store's records were not found where expected"
    for leaked in (token, secret, token.removeprefix("ya29."), secret.removeprefix("AIza")):
        assert leaked.encode() not in stored
        assert leaked not in auth_server.log.read_text()


def test_an_admin_key_is_refused_in_the_url(auth_server: Server, local_url: str) -> None:
    """A URL ends up in proxies' logs: an admin key there gets a 403, in a header it works,
    and a project's own key still works in `?key=`, as Google's do."""
    out = cli(auth_server, "apikeys", "create", "--project", DEFAULT_PROJECT, "--admin")
    admin = out.strip().splitlines()[-1]
    models = f"{local_url}/models"
    refused = httpx.get(models, params={"key": admin})
    assert_envelope(refused, 403, "PERMISSION_DENIED", "API_KEY_IN_URL")
    assert "x-goog-api-key" in refused.json()["error"]["message"]
    assert httpx.get(models, headers={"x-goog-api-key": admin}).status_code == 200
    key, _ = new_api_key(auth_server)
    assert httpx.get(models, params={"key": key}).status_code == 200
