"""Hostile media against the real server: each is read or refused with a 400, never a 500;
decoding stays within its memory bound; the work stops when nobody wants it; it is billed.

Every attack is built here: pictures with Pillow, noise as WAV with the standard library,
and FLAC written by hand (a few bytes can declare minutes of samples at any rate).
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import struct
import threading
import time
import wave
from pathlib import Path

import httpx
import numpy as np
import pytest
from attacks import HealthWatch, PeakMemory
from conftest import MODEL, Server, ledger, start_server
from PIL import Image

# What one request may grow the server by (MiB), beyond what it held before. OCR's own
# working set (text detection at up to 960 px: 130-450 MiB measured, one image at a time
# in the whole server) comes on top of decoding, which is bounded at 128 MiB an image.
# Every payload is built before a watch starts: the client's own work must not count.
REFUSED_MIB = 40  # a refusal decodes nothing
OCR_MIB = 500
LARGEST_IMAGE_MIB = 128 + OCR_MIB
AUDIO_BOMB_MIB = 80  # 600 s of 16 kHz samples is 37 MiB; one FLAC frame on top
# After the client leaves, the CPU work has stopped within this: the unit of Whisper work
# under way ends first (decoding one 30 s window of noise: up to ~3 s on 2 cores).
CPU_SETTLE_S = 4.0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def _image(data: bytes) -> dict:
    return {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_b64(data)}"}}


def _audio(data: bytes, fmt: str) -> dict:
    return {"type": "input_audio", "input_audio": {"data": _b64(data), "format": fmt}}


def _post(server: Server, *parts: dict, timeout: float = 120) -> httpx.Response:
    body = {
        "model": MODEL,
        "max_tokens": 1,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is this?"}, *parts]}
        ],
    }
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=timeout)


def _noise_wav(seconds: float, rate: int = 16_000) -> bytes:
    samples = np.random.default_rng(7).normal(0, 3000, int(seconds * rate)).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


def _crc(data: bytes, bits: int, poly: int) -> int:
    crc, top, mask = 0, 1 << (bits - 1), (1 << bits) - 1
    for byte in data:
        crc ^= byte << (bits - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) & mask if crc & top else (crc << 1) & mask
    return crc


def _silent_flac(rate: int, blocks: int, channels: int = 1, block: int = 65_535) -> bytes:
    """FLAC whose header gives no length, each frame `block` samples of one CONSTANT value:
    about 8 bytes a frame, however long the frame lasts."""
    info = struct.pack(">HH", block, block) + bytes(6)  # block sizes; frame sizes unknown
    info += ((rate << 44) | ((channels - 1) << 41) | (15 << 36)).to_bytes(8, "big")  # 0 samples
    out = bytearray(b"fLaC\x80\x00\x00\x22" + info + bytes(16))  # last block: STREAMINFO
    for number in range(blocks):
        head = bytes([0xFF, 0xF8, 0x70, (channels - 1) << 4]) + _utf8(number)
        head += struct.pack(">H", block - 1)
        frame = head + bytes([_crc(head, 8, 0x07)]) + b"\x00\x00\x00" * channels
        out += frame + struct.pack(">H", _crc(frame, 16, 0x8005))
    return bytes(out)


def _utf8(number: int) -> bytes:
    """A FLAC frame number, coded as UTF-8 codes a character."""
    return chr(number).encode("utf-8", "surrogatepass")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _still_answers(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    reply = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": "Hi"}]},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text


@pytest.fixture(scope="module")
def warm(server: Server) -> Server:
    """OCR and Whisper loaded, so that a test measures its attack, not a model's load."""
    assert _post(server, _image(_png(64, 64)), _audio(_noise_wav(1), "wav")).status_code == 200
    return server


def test_any_image_shape_is_read_or_refused_never_a_500(warm: Server) -> None:
    # A 4000 x 10 banner made OCR's own resizing fail (500); each shape now gets a reading.
    shapes = [(4000, 10), (10, 4000), (1, 1), (20_000, 3), (3, 20_000)]
    images = [_image(_png(width, height)) for width, height in shapes]
    with HealthWatch(warm.url) as watch, PeakMemory(warm.process.pid) as memory:
        replies = [_post(warm, image) for image in images]
    for shape, reply in zip(shapes, replies, strict=True):
        assert reply.status_code == 200, (shape, reply.text)
    watch.assert_responsive()
    assert memory.grown_mib < OCR_MIB, f"+{memory.grown_mib:.0f} MiB"
    _still_answers(warm)


def test_a_huge_image_is_refused_from_its_header_and_a_large_one_is_bounded(warm: Server) -> None:
    # 7000 x 7000 is under the 50-megapixel cap, but decoding it took +1 GB.
    huge = _image(_png(7000, 7000))
    banner = _image(_png(20_000, 1_100))  # 22 megapixels, just under the PNG budget
    with HealthWatch(warm.url) as watch, PeakMemory(warm.process.pid) as refused:
        reply = _post(warm, *[huge] * 8)
    assert reply.status_code == 400, reply.text
    assert "limit of 128 MiB" in reply.json()["error"]["message"]
    assert refused.grown_mib < REFUSED_MIB, f"+{refused.grown_mib:.0f} MiB"
    with HealthWatch(warm.url) as watch_too, PeakMemory(warm.process.pid) as largest:
        reply = _post(warm, banner, banner)  # a banner: OCR's share is small
    assert reply.status_code == 200, reply.text
    assert largest.grown_mib < LARGEST_IMAGE_MIB, f"+{largest.grown_mib:.0f} MiB"
    watch.assert_responsive()
    watch_too.assert_responsive()
    _still_answers(warm)


def test_an_audio_bomb_is_refused_before_it_expands(warm: Server) -> None:
    # 55 bytes of FLAC at 50 Hz grew to +487 MB in the resampler before the length check.
    bombs = [
        _audio(_silent_flac(50, 3), "flac"),
        _audio(_silent_flac(50, 1, channels=8), "flac"),
        # At a real rate, no declared length and 55 minutes of 8 channels: cut while decoding.
        _audio(_silent_flac(8000, 400, channels=8), "flac"),
    ]
    with HealthWatch(warm.url) as watch, PeakMemory(warm.process.pid) as memory:
        slow, wide, long = (_post(warm, bomb) for bomb in bombs)
    for reply, words in [(slow, "50 Hz"), (wide, "50 Hz"), (long, "longer than the limit")]:
        assert reply.status_code == 400, reply.text
        assert words in reply.json()["error"]["message"]
    watch.assert_responsive()
    assert memory.grown_mib < AUDIO_BOMB_MIB, f"+{memory.grown_mib:.0f} MiB"
    _still_answers(warm)


def _cpu_after_leaving(server: Server, body: bytes, leave_after_s: float) -> tuple[float, str]:
    """Send `body`, leave after `leave_after_s`; then the CPU the server burnt over the
    second after CPU_SETTLE_S, and the request's id."""
    request_id = f"attack-media-{time.monotonic_ns()}"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{server.url}/v1/chat/completions",
            content=body,
            headers={"x-request-id": request_id, "content-type": "application/json"},
            timeout=leave_after_s,
        )
    time.sleep(CPU_SETTLE_S)
    before = _cpu_seconds(server.process.pid)
    time.sleep(1.0)
    return _cpu_seconds(server.process.pid) - before, request_id


def test_media_work_stops_when_the_client_leaves_and_is_still_billed(warm: Server) -> None:
    # Before, Whisper went on for the whole clip (34 s of CPU for 300 s of noise).
    clip = [_audio(_noise_wav(120), "wav")]  # 120 s of noise: a minute of CPU to transcribe
    message = {"role": "user", "content": clip}
    body = json.dumps({"model": MODEL, "max_tokens": 1, "messages": [message]})
    with HealthWatch(warm.url) as watch:
        burnt, request_id = _cpu_after_leaving(warm, body.encode(), leave_after_s=3)
    watch.assert_responsive()
    assert burnt < 0.3, f"the server still burnt {burnt:.2f} s of CPU a second later"
    time.sleep(0.2)  # the ledger row is written just after the request ends
    row = next(r for r in ledger(warm) if r["request_id"] == request_id)
    assert row["status"] == 499
    assert row["prompt_tokens"] == 120 * 32  # the audio read, at Gemini's 32 tokens a second
    _still_answers(warm)


def test_media_is_billed_to_the_project_at_geminis_rates(warm: Server) -> None:
    reply = _post(warm, _image(_png(200, 100)), _audio(_noise_wav(2.5), "wav"))
    assert reply.status_code == 200, reply.text
    read = reply.json()["usage"]["prompt_tokens"]  # the text the model read
    time.sleep(0.2)
    row = next(r for r in ledger(warm) if r["request_id"] == reply.headers["x-request-id"])
    assert row["prompt_tokens"] == read + 258 + 3 * 32  # what the token quota is charged


def test_media_work_stops_at_the_shutdown_deadline(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--no-auth", "--grace", "1")
    replies: list[httpx.Response] = []

    def send() -> None:
        replies.append(_post(server, _audio(_noise_wav(120), "wav"), timeout=60))

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 30
    while "Processing audio" not in server.log.read_text():  # Whisper has begun
        assert time.monotonic() < deadline, "Whisper never started"
        time.sleep(0.1)
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    # Before, the process waited for Whisper's thread to end (the whole clip).
    assert server.process.wait(timeout=20) == 0
    exited_after = time.monotonic() - signalled
    sender.join(10)
    assert replies and replies[0].status_code == 503, replies and replies[0].text
    assert "grace period" in replies[0].json()["error"]["message"]
    # 1 s of grace, then the usual shutdown (4-5 s measured); before, 18 s for this clip.
    assert exited_after < 1 + 6, f"the server took {exited_after:.1f} s to exit"
