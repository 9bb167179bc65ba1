"""What reading media costs a project, in tokens, at the rates Gemini bills them.

OCR and Whisper burn CPU that the text the model finally reads does not show (a
minute of noise transcribes to nothing), so media are billed on their own: 258
tokens an image, 32 tokens a second of audio, as Vertex AI counts them. They go into
the project's token quota and the ledger as prompt tokens, whatever the reply did.
"""

from __future__ import annotations

import math

IMAGE_TOKENS = 258
AUDIO_TOKENS_PER_SECOND = 32


def image_tokens() -> int:
    """One image, whatever its size (Gemini tiles large ones; we shrink them instead)."""
    return IMAGE_TOKENS


def audio_tokens(seconds: float) -> int:
    """Audio of `seconds`, each started second counted."""
    return math.ceil(seconds) * AUDIO_TOKENS_PER_SECOND
