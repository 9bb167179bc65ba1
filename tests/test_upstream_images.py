"""Image generation: drawn by an upstream that draws, honestly refused by a model that cannot.

The upstream is the tests' own small images server on loopback, speaking OpenAI's
`/images/generations` as LocalAI and diffusion servers do; it draws a real PNG.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest
from conftest import MODEL, Server, free_port, start_server, stop_server
from google import genai
from google.genai import errors, types
from PIL import Image

DRAWER = "imagen-4.0-generate-001"
ASKED: list[dict] = []  # what the images server was asked, in order


class _Painter(http.server.BaseHTTPRequestHandler):
    """`GET /v1/models`, and `POST /v1/images/generations` answered with a real PNG."""

    def do_GET(self) -> None:
        self._answer({"object": "list", "data": [{"id": "tiny-diffusion", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ASKED.append(body)
        width, height = map(int, (body.get("size") or "64x48").split("x"))
        out = io.BytesIO()
        Image.new("RGB", (width, height), "crimson").save(out, "PNG")
        item = {"b64_json": base64.b64encode(out.getvalue()).decode()}
        self._answer({"created": 0, "data": [item] * body.get("n", 1)})

    def _answer(self, reply: dict) -> None:
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    painter = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Painter)
    threading.Thread(target=painter.serve_forever, daemon=True).start()
    tmp = tmp_path_factory.mktemp("images")
    config = tmp / "models.toml"
    config.write_text(
        f"""
[[models]]
names = ["google/{DRAWER}"]
upstreams = ["http://127.0.0.1:{painter.server_port}/v1"]
upstream_model = "tiny-diffusion"
image_generation = true
"""
    )
    srv = start_server(tmp, "--no-auth", "--config", str(config))
    yield srv
    stop_server(srv)
    painter.shutdown()


def client_of(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.vertex_base, api_key="any", max_retries=0, timeout=60)


def picture(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def from_data_url(url: str) -> bytes:
    head, encoded = url.split(",", 1)
    assert head == "data:image/png;base64"
    return base64.b64decode(encoded)


def test_images_generate_returns_the_upstreams_png(gateway: Server) -> None:
    reply = client_of(gateway).images.generate(
        model=DRAWER, prompt="a red square", size="128x96", n=2
    )
    assert len(reply.data) == 2
    assert picture(base64.b64decode(reply.data[0].b64_json)).size == (128, 96)
    assert ASKED[-1] == {
        "model": "tiny-diffusion",
        "prompt": "a red square",
        "n": 1,
        "response_format": "b64_json",
        "size": "128x96",
    }
    as_url = client_of(gateway).images.generate(model=DRAWER, prompt="x", response_format="url")
    assert picture(from_data_url(as_url.data[0].url)).size == (64, 48)


def test_chat_with_image_modality_answers_message_images(gateway: Server) -> None:
    client = client_of(gateway)
    reply = client.chat.completions.create(
        model=DRAWER,
        modalities=["text", "image"],
        messages=[{"role": "user", "content": "draw a red square"}],
    )
    images = reply.choices[0].message.model_extra["images"]
    assert images[0]["type"] == "image_url"
    picture(from_data_url(images[0]["image_url"]["url"]))
    assert ASKED[-1]["prompt"] == "draw a red square"

    stream = client.chat.completions.create(
        model=DRAWER,
        modalities=["text", "image"],
        messages=[{"role": "user", "content": "draw a red square"}],
        stream=True,
    )
    streamed = [
        image
        for chunk in stream
        for choice in chunk.choices
        for image in (choice.delta.model_extra or {}).get("images", [])
    ]
    assert len(streamed) == 1
    picture(from_data_url(streamed[0]["image_url"]["url"]))


def test_genai_response_modalities_image_answers_inline_data(gateway: Server) -> None:
    options = types.HttpOptions(base_url=gateway.url, timeout=60_000)
    client = genai.Client(vertexai=True, api_key="any", http_options=options)
    reply = client.models.generate_content(
        model=DRAWER,
        contents="a red square",
        config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"]),
    )
    inline = [p.inline_data for p in reply.candidates[0].content.parts if p.inline_data]
    assert inline[0].mime_type == "image/png"
    picture(inline[0].data)


def test_the_model_list_says_who_draws(gateway: Server) -> None:
    card = client_of(gateway).models.retrieve(DRAWER).model_extra["openvertex"]
    assert card["output_modalities"] == ["text", "image"]


def test_a_text_model_refuses_to_draw(server: Server) -> None:
    """The embedded model cannot draw: a 400 that says so and how to serve one that can."""
    client = client_of(server)
    with pytest.raises(openai.BadRequestError) as refused:
        client.images.generate(model=MODEL, prompt="a red square")
    error = refused.value.body
    assert refused.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert "cannot draw" in error["message"] and "image_generation = true" in error["message"]
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=MODEL, modalities=["text", "image"], messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.body["param"] == "modalities"
    options = types.HttpOptions(base_url=server.url, timeout=60_000)
    genai_client = genai.Client(vertexai=True, api_key="any", http_options=options)
    with pytest.raises(errors.ClientError) as refused_native:
        genai_client.models.generate_content(
            model=MODEL,
            contents="a red square",
            config=types.GenerateContentConfig(response_modalities=["IMAGE"]),
        )
    assert refused_native.value.code == 400
    assert refused_native.value.status == "FAILED_PRECONDITION"
    assert client.models.retrieve(MODEL).model_extra["openvertex"]["output_modalities"] == ["text"]


def test_bad_image_requests_are_400s(gateway: Server) -> None:
    url = f"{gateway.vertex_base}/images/generations"
    for body in (
        {"model": DRAWER},
        {"model": DRAWER, "prompt": ""},
        {"model": DRAWER, "prompt": "x", "size": "huge"},
        {"model": DRAWER, "prompt": "x", "n": 0},
    ):
        reply = httpx.post(url, json=body, timeout=30)
        assert reply.status_code == 400, body
        assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
    reply = httpx.post(url, json={"model": "nope", "prompt": "x"}, timeout=30)
    assert reply.status_code == 404
