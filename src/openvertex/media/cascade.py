"""Media for a text-only model: each image or audio part becomes marked text.

The embedded model cannot see or hear. Specialised local models do it for it,
and say so: audio becomes a transcript (Whisper), an image becomes the text
found in it (OCR) plus plain facts (size, main colours). Each result goes into
the prompt clearly marked as what it is, so the model answers from it without
pretending to have seen or heard anything.

All of a request's media are processed at once, on a thread pool, never on the
event loop.

Two tasks the cascade answers better than a small model can: transcribing
attached audio, and reading out the text of an attached image. Asked to copy
text, a 135M model garbles it, so when the last message asks for that (its text
says "transcribe", or names the image's text), the reply must be exactly what
Whisper or OCR extracted (a literal output, which the engine enforces).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from openvertex.core.request import Audio, GenerationRequest, Image, LiteralOutput, Part, Text
from openvertex.errors import InvalidArgument
from openvertex.media.audio import decode_audio
from openvertex.media.errors import MediaError
from openvertex.media.fetch import fetch
from openvertex.media.images import image_facts, open_image
from openvertex.media.ocr import OcrReader
from openvertex.media.transcribe import Transcriber

ASKS_FOR = {
    "audio": re.compile(r"\btranscri(be|bes|bing|ption|pt)\b", re.IGNORECASE),
    "image": re.compile(r"\b(text|texts|written|words|ocr|transcri\w*)\b", re.IGNORECASE),
}

Job = Callable[[], tuple[str, str]]  # → (the text for the prompt, what was extracted)


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
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="media")

    @property
    def modalities(self) -> dict[str, str]:
        """What reads each kind of input, for the model cards."""
        return {
            "image": f"described as text: OCR by {self.ocr.description}, plus size and colours; "
            "the model does not see the image",
            "audio": f"transcribed by {self.transcriber.description}; "
            "the model reads the transcript",
        }

    def check(self, parts: Sequence[Image | Audio]) -> None:
        """The 400 that needs no decoding: too many parts to read for one request."""
        if len(parts) > self.limits.max_parts:
            raise InvalidArgument(
                f"A request may carry at most {self.limits.max_parts} image or audio parts; "
                f"this one has {len(parts)}.",
                param="messages",
            )

    async def to_text(
        self, request: GenerationRequest, kinds: frozenset[str] = frozenset({"image", "audio"})
    ) -> GenerationRequest:
        """`request` with its media of `kinds` replaced by text parts saying what was found.

        When the last message asks for the text its media hold (see the module's
        docstring), the answer becomes exactly that text.
        """
        parts = [part for part in request.media if _kind(part) in kinds]
        if not parts:
            return request
        jobs = {
            id(part): self._audio_job(part) if isinstance(part, Audio) else self._image_job(part)
            for part in parts
        }
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(
            *(loop.run_in_executor(self._pool, jobs[id(part)]) for part in parts),
            return_exceptions=True,
        )
        read: dict[int, tuple[str, str]] = {}
        for part, result in zip(parts, results, strict=True):
            if isinstance(result, MediaError):
                raise InvalidArgument(str(result), param=part.where)
            if isinstance(result, BaseException):
                raise result
            read[id(part)] = result

        def as_text(part: Part) -> Part:
            return Text(read[id(part)][0]) if id(part) in read else part

        messages = tuple(
            dataclasses.replace(m, parts=tuple(as_text(p) for p in m.parts))
            for m in request.messages
        )
        extracted = _extraction(request, read)
        output = LiteralOutput((extracted,)) if extracted is not None else request.output
        return dataclasses.replace(request, messages=messages, output=output)

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
        open_image(data, mime or None)  # a real, supported image, or a 400 now
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

    def _audio_job(self, part: Audio) -> Job:
        def run() -> tuple[str, str]:
            audio = decode_audio(part.data, part.format, max_seconds=self.limits.max_audio_seconds)
            transcript = self.transcriber.transcribe(audio).strip()
            return (
                f"[Attached audio, {audio.seconds:.1f} s. Transcript by "
                f"{self.transcriber.description}:]\n{transcript or '(no speech heard)'}"
            ), transcript

        return run

    def _image_job(self, part: Image) -> Job:
        def run() -> tuple[str, str]:
            data, mime = self._download(part)
            image = open_image(data, mime or None)
            lines = self.ocr.read_text(image)
            found = "\n".join(lines) if lines else "(no text found)"
            return (
                f"[Attached image ({image_facts(image)}). This model cannot see images; "
                f"text read from it by OCR:]\n{found}"
            ), "\n".join(lines)

        return run


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
