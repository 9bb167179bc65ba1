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
says "transcribe", or names the image's text), the reply is constrained by
grammar to exactly what Whisper or OCR extracted.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openvertex.core.constraints import Constraint, lark_grammar
from openvertex.errors import InvalidArgument
from openvertex.media.audio import decode_audio
from openvertex.media.errors import MediaError
from openvertex.media.fetch import fetch
from openvertex.media.images import image_facts, load_image_bytes, open_image, url_scheme
from openvertex.media.ocr import OcrReader
from openvertex.media.transcribe import Transcriber

if TYPE_CHECKING:
    from openvertex.core.chat_request import AudioPart, ChatCompletionRequest, ImagePart


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
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="media")

    @property
    def modalities(self) -> dict[str, str]:
        """What reads each kind of input, for the `/models` card."""
        return {
            "image": f"described as text: OCR by {self.ocr.description}, plus size and colours; "
            "the model does not see the image",
            "audio": f"transcribed by {self.transcriber.description}; "
            "the model reads the transcript",
        }

    @staticmethod
    def placeholders(body: ChatCompletionRequest) -> ChatCompletionRequest:
        """`body` with each media part as a short text: to check the rest before reading them."""
        from openvertex.core.chat_request import TextPart

        def plain(content: Any) -> Any:
            if not isinstance(content, list):
                return content
            return [p if isinstance(p, TextPart) else TextPart(type="text", text=f"[{p.type}]")
                    for p in content]  # fmt: skip

        messages = [m.model_copy(update={"content": plain(m.content)}) for m in body.messages]
        return body.model_copy(update={"messages": messages})

    async def to_text(self, body: ChatCompletionRequest) -> tuple[ChatCompletionRequest, Any]:
        """`body` with every media part replaced by a text part saying what was found.

        Also the constraint for the reply when the request asks for the text its
        media hold (see the module's docstring), else None.
        """
        from openvertex.core.chat_request import AudioPart, ImagePart, TextPart

        jobs: dict[tuple[int, int], Callable[[], tuple[str, tuple[str, str]]]] = {}
        for i, message in enumerate(body.messages):
            if isinstance(message.content, list):
                for j, part in enumerate(message.content):
                    if isinstance(part, AudioPart):
                        jobs[i, j] = self._audio_job(part)
                    elif isinstance(part, ImagePart):
                        jobs[i, j] = self._image_job(part)
        if not jobs:
            return body, None
        if len(jobs) > self.limits.max_parts:
            raise InvalidArgument(
                f"A request may carry at most {self.limits.max_parts} image or audio parts; "
                f"this one has {len(jobs)}.",
                param="messages",
            )
        loop = asyncio.get_running_loop()
        keys = list(jobs)
        results = await asyncio.gather(
            *(loop.run_in_executor(self._pool, jobs[key]) for key in keys),
            return_exceptions=True,
        )
        texts: dict[tuple[int, int], str] = {}
        extracted: dict[tuple[int, int], tuple[str, str]] = {}  # (kind, text)
        for (i, j), result in zip(keys, results, strict=True):
            if isinstance(result, MediaError):
                raise InvalidArgument(str(result), param=f"messages[{i}].content[{j}]")
            if isinstance(result, BaseException):
                raise result
            texts[i, j], extracted[i, j] = result
        messages = []
        for i, message in enumerate(body.messages):
            if isinstance(message.content, list):
                parts: list[Any] = [
                    TextPart(type="text", text=texts[i, j]) if (i, j) in texts else part
                    for j, part in enumerate(message.content)
                ]
                message = message.model_copy(update={"content": parts})
            messages.append(message)
        return body.model_copy(update={"messages": messages}), _extraction(body, extracted)

    def _audio_job(self, part: AudioPart) -> Callable[[], tuple[str, tuple[str, str]]]:
        def run() -> tuple[str, tuple[str, str]]:
            audio = decode_audio(
                part.input_audio.data,
                part.input_audio.format,
                max_seconds=self.limits.max_audio_seconds,
            )
            transcript = self.transcriber.transcribe(audio).strip()
            return (
                f"[Attached audio, {audio.seconds:.1f} s. Transcript by "
                f"{self.transcriber.description}:]\n{transcript or '(no speech heard)'}"
            ), ("audio", transcript)

        return run

    def _image_job(self, part: ImagePart) -> Callable[[], tuple[str, tuple[str, str]]]:
        url = part.image_url.url

        def run() -> tuple[str, tuple[str, str]]:
            if url_scheme(url) == "data":
                data, mime = load_image_bytes(url)
            else:
                data, mime = fetch(
                    url,
                    allow=self.limits.url_allowlist,
                    max_bytes=self.limits.max_image_bytes,
                    timeout=self.limits.fetch_timeout,
                )
            image = open_image(data, mime or None)
            lines = self.ocr.read_text(image)
            found = "\n".join(lines) if lines else "(no text found)"
            return (
                f"[Attached image ({image_facts(image)}). This model cannot see images; "
                f"text read from it by OCR:]\n{found}"
            ), ("image", "\n".join(lines))

        return run


def _extraction(
    body: ChatCompletionRequest, extracted: dict[tuple[int, int], tuple[str, str]]
) -> Constraint | None:
    """The reply's grammar when the last message asks for the text its media hold."""
    from openvertex.core.chat_request import TextPart

    last = len(body.messages) - 1
    message = body.messages[last]
    if message.role != "user" or body.response_format or body.tools or body.functions:
        return None
    parts = message.content if isinstance(message.content, list) else []
    asked = " ".join(part.text for part in parts if isinstance(part, TextPart))
    own = [(kind, text) for (i, _), (kind, text) in sorted(extracted.items()) if i == last]
    if not own or not all(text and ASKS_FOR[kind].search(asked) for kind, text in own):
        return None
    return Constraint(lark_grammar("start: " + json.dumps("\n".join(t for _, t in own))))
