"""Drawing over OpenAI's images API (`/images/generations`): LocalAI, diffusion servers.

The model draws the last user turn's text; what comes back are image events,
like any other engine's answer, so both wires and the images route show them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from openvertex.core.events import Event, Finish, ImageData, Usage
from openvertex.core.request import GenerationRequest
from openvertex.errors import BadGateway, InvalidArgument
from openvertex.media.image_bytes import sniff_image


def drawing_prompt(request: GenerationRequest) -> str:
    """What to draw: the text of the last user turn."""
    users = [m for m in request.messages if m.role == "user"]
    prompt = users[-1].text.strip() if users else ""
    if not prompt:
        raise InvalidArgument("Say what to draw: the last user turn has no text.", param="prompt")
    return prompt


def images_body(request: GenerationRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "prompt": drawing_prompt(request),
        "n": 1,
        "response_format": "b64_json",
    }
    if request.image is not None and request.image.size:
        body["size"] = request.image.size
    return body


def drawn(reply: dict[str, Any]) -> list[Event]:
    """An images API reply as events: its images, its usage when it tells one, the end."""
    out: list[Event] = []
    for item in reply.get("data") or []:
        data = _image_bytes(item)
        kind = sniff_image(data)
        if kind is None:
            raise BadGateway("The upstream answered with something that is not an image.")
        out.append(ImageData(f"image/{kind}", data))
    if not out:
        raise BadGateway("The upstream answered without an image.")
    usage = reply.get("usage") or {}
    out.append(Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)))
    out.append(Finish("stop"))
    return out


def _image_bytes(item: dict[str, Any]) -> bytes:
    encoded = item.get("b64_json")
    url = item.get("url") or ""
    if not encoded and url.startswith("data:") and "," in url:
        encoded = url.split(",", 1)[1]
    if not encoded:
        raise BadGateway("The upstream answered with an image URL, not the image itself.")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadGateway("The upstream's image is not valid base64.") from None
