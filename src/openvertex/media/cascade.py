"""Media for a text-only model: each image or audio part becomes marked text.

The embedded model cannot see or hear. Specialised local models do it for it,
and say so: audio becomes a transcript (Whisper), an image becomes the text
found in it (OCR) plus plain facts (size, main colours). Each result goes into
the prompt clearly marked as what it is, so the model answers from it without
pretending to have seen or heard anything.

A request's media are read one after another, on a thread pool, never on the event
loop: one part's decoding memory at a time (each bounded: see images.py and
audio.py), and OCR and Whisper each take every core anyway. The work stops when its
request is cancelled (client gone, shutdown deadline: see cancel.py), and each part is
billed (billing.py) once decoded, before OCR or Whisper start on it.

Two tasks the cascade answers better than a small model can: transcribing
attached audio, and reading out the text of an attached image. Asked to copy
text, a 135M model garbles it, so when the last message asks for that (its text
says "transcribe", or names the image's text), the reply must be exactly what
Whisper or OCR extracted (a literal output, which the engine enforces).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from openvertex.core.request import Audio, GenerationRequest, Image, LiteralOutput, Part, Text
from openvertex.errors import FailedPrecondition, InvalidArgument
from openvertex.media.audio import Audio as DecodedAudio
from openvertex.media.audio import decode_audio
from openvertex.media.billing import audio_tokens, image_tokens
from openvertex.media.cancel import Cancel
from openvertex.media.errors import MediaError
from openvertex.media.fetch import fetch
from openvertex.media.images import Picture, image_facts, read_image
from openvertex.media.ocr import MAX_SIDE as OCR_MAX_SIDE
from openvertex.media.ocr import OcrReader, unavailable
from openvertex.media.transcribe import Transcriber

T = TypeVar("T")
MEDIA_NICE = 10

ASKS_FOR = {
    "audio": re.compile(r"\btranscri(be|bes|bing|ption|pt)\b", re.IGNORECASE),
    "image": re.compile(r"\b(text|texts|written|words|ocr|transcri\w*)\b", re.IGNORECASE),
}


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_audio_seconds: float = 600.0
    max_parts: int = 8
    max_image_bytes: int = 20 * 2**20
    fetch_timeout: float = 10.0
    url_allowlist: tuple[str, ...] = ()


class MediaReader:
    """Turns a request's image and audio parts into text parts; shared by all requests."""

    def __init__(self, limits: MediaLimits, *, whisper_model: str = "tiny.en") -> None:
        self.limits = limits
        self.transcriber = Transcriber(whisper_model)
        self.ocr = OcrReader()
        self._pool = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="media", initializer=_yield_cpu
        )

    @property
    def modalities(self) -> dict[str, str]:
        """What reads each kind of input, for the model cards."""
        image = (
            f"described as text: OCR by {self.ocr.description}, plus size and colours; "
            "the model does not see the image"
        )
        return {
            "image": f"refused: {why}" if (why := unavailable()) else image,
            "audio": f"transcribed by {self.transcriber.description}; "
            "the model reads the transcript",
        }

    def check(self, parts: Sequence[Image | Audio]) -> None:
        """The 400s that need no decoding: too many parts to read for one request, or an
        image where OCR is not installed (see ocr.py)."""
        if len(parts) > self.limits.max_parts:
            raise InvalidArgument(
                f"A request may carry at most {self.limits.max_parts} image or audio parts; "
                f"this one has {len(parts)}.",
                param="messages",
            )
        images = [part for part in parts if isinstance(part, Image)]
        if images and (why := unavailable()):
            raise FailedPrecondition(why, param=images[0].where)

    async def to_text(
        self,
        request: GenerationRequest,
        kinds: frozenset[str] = frozenset({"image", "audio"}),
        *,
        bill: Callable[[int], None] = lambda tokens: None,
    ) -> GenerationRequest:
        """`request` with its media of `kinds` replaced by text parts saying what was found.

        `bill` is told the tokens each part costs as soon as it is decoded. When the
        last message asks for the text its media hold (see the module's docstring),
        the answer becomes exactly that text.
        """
        parts = [part for part in request.media if _kind(part) in kinds]
        if not parts:
            return request
        cancel = Cancel()
        read: dict[int, tuple[str, str]] = {}
        heard = 0.0  # seconds of audio in this request so far
        try:
            for part in parts:
                try:
                    if isinstance(part, Audio):
                        audio = await self._work(cancel, self._decode_audio, part, heard)
                        heard += audio.seconds
                        bill(audio_tokens(audio.seconds))
                        read[id(part)] = await self._work(cancel, self._transcribe, audio)
                    else:
                        picture = await self._work(cancel, self._open, part)
                        bill(image_tokens())
                        read[id(part)] = await self._work(cancel, self._read_image, picture)
                except MediaError as exc:
                    raise InvalidArgument(str(exc), param=part.where) from None
        finally:
            cancel.cancel()  # whatever still runs for this request stops at its next check

        def as_text(part: Part) -> Part:
            return Text(read[id(part)][0]) if id(part) in read else part

        messages = tuple(
            dataclasses.replace(m, parts=tuple(as_text(p) for p in m.parts))
            for m in request.messages
        )
        extracted = _extraction(request, read)
        output = LiteralOutput((extracted,)) if extracted is not None else request.output
        return dataclasses.replace(request, messages=messages, output=output)

    async def _work(self, cancel: Cancel, step: Callable[..., T], *args: Any) -> T:
        """One step of a part's reading, on the pool, stopped with `cancel`."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, cancel.run, functools.partial(step, *args))

    async def fetch_images(self, request: GenerationRequest) -> GenerationRequest:
        """Image URLs fetched (through the URL guard) into bytes, for a model that sees:
        an upstream is never handed a URL to fetch from inside the operator's network."""
        urls = [p for p in request.media if isinstance(p, Image) and p.data is None]
        if not urls:
            return request
        loop = asyncio.get_running_loop()
        fetched = await asyncio.gather(
            *(loop.run_in_executor(self._pool, self._fetch, part) for part in urls),
            return_exceptions=True,
        )
        images: dict[int, Part] = {}
        for part, result in zip(urls, fetched, strict=True):
            if isinstance(result, MediaError):
                raise InvalidArgument(str(result), param=part.where)
            if isinstance(result, BaseException):
                raise result
            images[id(part)] = result
        messages = tuple(
            dataclasses.replace(m, parts=tuple(images.get(id(p), p) for p in m.parts))
            for m in request.messages
        )
        return dataclasses.replace(request, messages=messages)

    def _fetch(self, part: Image) -> Image:
        data, mime = self._download(part)
        read_image(data, mime or None, max_side=OCR_MAX_SIDE)  # a real, supported image, or a 400
        return dataclasses.replace(part, data=data, url=None, mime_type=mime or part.mime_type)

    def _download(self, part: Image) -> tuple[bytes, str | None]:
        if part.data is not None:
            return part.data, part.mime_type
        assert part.url is not None
        return fetch(
            part.url,
            allow=self.limits.url_allowlist,
            max_bytes=self.limits.max_image_bytes,
            timeout=self.limits.fetch_timeout,
        )

    def _decode_audio(self, part: Audio, heard: float) -> DecodedAudio:
        limit = self.limits.max_audio_seconds
        audio = decode_audio(part.data, part.format, max_seconds=limit)
        if heard + audio.seconds > limit + 1:  # the same limit holds for the whole request
            raise MediaError(
                f"the request's audio adds up to {heard + audio.seconds:.0f} s, "
                f"over the limit of {limit:g} s a request"
            )
        return audio

    def _transcribe(self, audio: DecodedAudio) -> tuple[str, str]:
        transcript = self.transcriber.transcribe(audio).strip()
        return (
            f"[Attached audio, {audio.seconds:.1f} s. Transcript by "
            f"{self.transcriber.description}:]\n{transcript or '(no speech heard)'}"
        ), transcript

    def _open(self, part: Image) -> Picture:
        data, mime = self._download(part)
        return read_image(data, mime or None, max_side=OCR_MAX_SIDE)

    def _read_image(self, picture: Picture) -> tuple[str, str]:
        lines = self.ocr.read_text(picture.image)
        found = "\n".join(lines) if lines else "(no text found)"
        return (
            f"[Attached image ({image_facts(picture.image, picture.size)}). This model cannot "
            f"see images; text read from it by OCR:]\n{found}"
        ), "\n".join(lines)


def _yield_cpu() -> None:
    """Run media work below the event loop's priority (nice 10), so that a long
    transcription cannot keep the loop (health checks, other replies) waiting for a core.
    The models' own threads are started from these threads, and inherit it."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), MEDIA_NICE)


def _extraction(request: GenerationRequest, read: dict[int, tuple[str, str]]) -> str | None:
    """The text the last message's media hold, when that message asks for exactly it."""
    last = request.messages[-1]
    if last.role != "user" or request.output is not None or request.tools is not None:
        return None
    if any(id(part) not in read for part in last.media):
        return None
    own = [(_kind(part), read[id(part)][1]) for part in last.media]
    asked = last.text
    if not own or not all(text and ASKS_FOR[kind].search(asked) for kind, text in own):
        return None
    return "\n".join(text for _, text in own)


def _kind(part: Image | Audio) -> str:
    return "image" if isinstance(part, Image) else "audio"
