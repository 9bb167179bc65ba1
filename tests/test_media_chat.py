"""Images and audio through the chat API: the embedded model's honest cascade, end to end.

Vertex's documentation examples run unchanged but for host and credentials; speech comes from
espeak-ng, images are drawn with Pillow. The URL guard is exercised through the
server itself, with a loopback image server.
"""

from __future__ import annotations

import base64
import http.server
import io
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest
from conftest import MODEL, Server, start_server, stop_server
from PIL import Image, ImageDraw, ImageFont
from test_media_transcribe import MAX_WER, SENTENCES, as_mp3, speak, word_error_rate
from test_vertex_doc_examples import run_snippet


def png(text: str, *, size: int = 40) -> bytes:
    image = Image.new("RGB", (900, 160), "white")
    ImageDraw.Draw(image).text((40, 50), text, font=ImageFont.load_default(size=size), fill="navy")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg(text: str) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(png(text))).save(out, "JPEG", quality=90)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ask(client: openai.OpenAI, *parts: dict, question: str, **extra) -> str:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": [{"type": "text", "text": question}, *parts]}],
        **extra,
    )
    return reply.choices[0].message.content


def audio_part(data: bytes, fmt: str) -> dict:
    return {"type": "input_audio", "input_audio": {"data": b64(data), "format": fmt}}


def image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


DOCS_AUDIO = """
import base64
with open(AUDIO_FILE, "rb") as audio_file:
    base64_audio = base64.b64encode(audio_file.read()).decode('utf-8')
response = client.chat.completions.create(
    model="gemini-2.0-flash",
    messages=[
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "Transcribe this audio",
                },
                {
                    "type": "input_audio",
                    "input_audio": {
                        "data": base64_audio,
                        "format": "wav"
                    }
                }
            ],
        }
    ],
)
print(response.choices[0].message.content)
"""


@pytest.mark.parametrize("sentence", SENTENCES[:5])
def test_docs_audio_example_transcribes(auth_server: Server, tmp_path, sentence: str) -> None:
    wav = tmp_path / "speech.wav"
    wav.write_bytes(speak(sentence))
    out = run_snippet(auth_server, DOCS_AUDIO.replace("AUDIO_FILE", repr(str(wav))))
    assert word_error_rate(sentence, out) <= MAX_WER, out


def test_the_same_audio_as_mp3(client: openai.OpenAI) -> None:
    sentence = SENTENCES[1]
    answer = ask(
        client, audio_part(as_mp3(speak(sentence)), "mp3"), question="Transcribe this audio"
    )
    assert word_error_rate(sentence, answer) <= MAX_WER, answer


def test_questions_about_audio_are_answered_from_the_transcript(client: openai.OpenAI) -> None:
    answers = [
        ask(
            client,
            audio_part(speak("The meeting has been moved to Tuesday afternoon."), "wav"),
            question="On which day is the meeting now?",
            seed=seed,
            max_tokens=60,
        )
        for seed in range(3)
    ]
    assert any("tuesday" in a.lower() for a in answers), answers


def test_image_text_is_read(client: openai.OpenAI) -> None:
    url = f"data:image/png;base64,{b64(png('INVOICE TOTAL 42.50'))}"
    answers = [
        ask(client, image_part(url), question="What text is in this image?", seed=s, max_tokens=60)
        for s in range(2)
    ]
    assert any("INVOICE TOTAL 42.50" in a for a in answers), answers


DOCS_IMAGE = """
import base64
with open(IMAGE_FILE, "rb") as image_file:
    base64_image = base64.b64encode(image_file.read()).decode('utf-8')
response = client.chat.completions.create(
    model="google/gemini-2.0-flash",
    messages=[
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "What is in this image?",
                },
                {
                    "type": "image_url",
                    "image_url": {
                        "url": f"data:image/jpeg;base64,{base64_image}"
                    },
                },
            ],
        }
    ],
)
print(response.choices[0])
"""


def test_docs_image_example(auth_server: Server, tmp_path) -> None:
    image = tmp_path / "sign.jpg"
    image.write_bytes(jpeg("OPEN DAILY 9 TO 5"))
    out = run_snippet(auth_server, DOCS_IMAGE.replace("IMAGE_FILE", repr(str(image))))
    assert out.startswith("Choice(finish_reason=") and "content=" in out, out


def test_model_card_says_how_media_is_read(client: openai.OpenAI) -> None:
    card = client.models.retrieve(MODEL).model_extra["openvertex"]
    assert card["input_modalities"] == ["text", "image", "audio"]
    assert (
        "cannot see" in card["media_input"]["image"]
        or "does not see" in card["media_input"]["image"]
    )
    assert "Whisper" in card["media_input"]["audio"]


class _Images(http.server.BaseHTTPRequestHandler):
    """A loopback image server: /ok.png, /big.png, /text, /to-metadata (redirect)."""

    def do_GET(self) -> None:
        if self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        kind, body = {
            "/ok.png": ("image/png", png("HELLO 7")),
            "/big.png": ("image/png", b"\x89PNG" + b"0" * (21 * 2**20)),
            "/text": ("text/html", b"<html>not an image</html>"),
        }[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # openvertex hanging up on an oversized image is the point of that test


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    server = _QuietServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory, image_server: str) -> Iterator[Server]:
    """A server whose allowlist lets image URLs reach only the loopback image server."""
    tmp = tmp_path_factory.mktemp("guarded")
    port = image_server.rsplit(":", 1)[1]
    config = tmp / "openvertex.toml"
    config.write_text(f'image_url_allowlist = ["127.0.0.1:{port}"]\nmax_audio_seconds = 3\n')
    srv = start_server(tmp, "--no-auth", "--parallel", "1", "--config", str(config))
    yield srv
    stop_server(srv)


def post_part(server: Server, part: dict, **extra) -> httpx.Response:
    body = {
        "model": MODEL,
        "max_tokens": 40,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is this?"}, part]}
        ],
        **extra,
    }
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=120)


def test_allowlisted_loopback_image_is_fetched(guarded_server: Server, image_server: str) -> None:
    reply = post_part(guarded_server, image_part(f"{image_server}/ok.png"))
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:9/x.png", "not allowed"),
        ("http://10.0.0.1/x.png", "not allowed"),
        ("http://169.254.169.254/latest/meta-data/", "not allowed"),
        ("http://[::1]/x.png", "not allowed"),
        ("http://localhost:9/x.png", "not allowed"),
        ("gs://bucket/x.png", "data:, http:, https:"),
        ("ftp://example.com/x.png", "data:, http:, https:"),
        ("data:image/png;base64,@@@", "base64"),
        ("data:image/png;base64," + b64(b"not an image at all"), "image"),
    ],
)
def test_refused_image_urls(guarded_server: Server, url: str, words: str) -> None:
    reply = post_part(guarded_server, image_part(url))
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == "messages[0].content[1]"
    assert words in error["message"]
    assert "127.0.0" not in error["message"] and "10.0.0" not in error["message"]


@pytest.mark.parametrize(
    ("path", "words"), [("/to-metadata", "not allowed"), ("/big.png", "20 MiB"), ("/text", "image")]
)
def test_guard_follows_redirects_and_caps(
    guarded_server: Server, image_server: str, path: str, words: str
) -> None:
    reply = post_part(guarded_server, image_part(image_server + path))
    assert reply.status_code == 400, reply.text
    assert words in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    ("part", "words"),
    [
        (audio_part(b"", "wav") | {"input_audio": {"data": "***", "format": "wav"}}, "base64"),
        (audio_part(b"RIFF0000WAVE", "aiff"), "format"),
        (audio_part(png("x"), "wav"), "wav"),
    ],
)
def test_bad_audio_is_refused(guarded_server: Server, part: dict, words: str) -> None:
    reply = post_part(guarded_server, part)
    assert reply.status_code == 400, reply.text
    assert words in reply.json()["error"]["message"]
    assert reply.json()["error"]["param"] == "messages[0].content[1]"


def test_audio_over_the_configured_length(guarded_server: Server) -> None:
    reply = post_part(guarded_server, audio_part(speak(" ".join(SENTENCES[:3])), "wav"))
    assert reply.status_code == 400
    assert "3" in reply.json()["error"]["message"]


def test_too_many_media_parts(guarded_server: Server) -> None:
    url = f"data:image/png;base64,{b64(png('A'))}"
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": [image_part(url)] * 9}],
    }
    reply = httpx.post(f"{guarded_server.url}/v1/chat/completions", json=body, timeout=60)
    assert reply.status_code == 400
    assert "at most 8" in reply.json()["error"]["message"]
