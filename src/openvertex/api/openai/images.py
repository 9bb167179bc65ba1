"""`POST .../images/generations`: a drawing by a model that draws, else an honest 400.

The prompt becomes a one-turn request that asks for an image; the service runs
it like any other generation (quota, slots, ledger), and the model's image
events come back as OpenAI's `data[]`.
"""

from __future__ import annotations

import base64
import time
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from openvertex.api.body import parse_body
from openvertex.api.context import Context
from openvertex.api.deps import BilledCaller
from openvertex.api.generation import served_model, start_generation, unless_disconnected
from openvertex.api.openai.docs import IMAGES_DOCS
from openvertex.api.openai.paths import route
from openvertex.api.openai.request import ImageGenerationRequest
from openvertex.core.events import ChoiceEvent, ImageData, Usage, UsageSum
from openvertex.core.request import GenerationRequest, ImageOutput, Message, Text

router = APIRouter()


@route(router, "POST", "/images/generations", **IMAGES_DOCS)
async def images_generations(request: Request, principal: BilledCaller, ctx: Context) -> Any:
    service = ctx.service
    service.check_room()
    body = await parse_body(request, ImageGenerationRequest, service.registry)
    served = served_model(request, service, body.model)
    size = None if body.size in (None, "auto") else body.size
    generation = GenerationRequest(
        model=body.model,
        messages=(Message("user", (Text(body.prompt),)),),
        candidates=body.n or 1,
        image=ImageOutput(size=size, where="model"),
    )
    events = await start_generation(request, service, served, generation, principal)
    async with aclosing(events):
        images, usage = await unless_disconnected(request, _gather(events))
    as_url = body.response_format == "url"
    data = [_image_json(image, as_url) for image in images]
    return JSONResponse({"created": int(time.time()), "data": data, "usage": _usage(usage)})


async def _gather(events: Any) -> tuple[list[ImageData], UsageSum]:
    images: list[ImageData] = []
    usage = UsageSum()
    item: ChoiceEvent
    async for item in events:
        if isinstance(item.event, ImageData):
            images.append(item.event)
        elif isinstance(item.event, Usage):
            usage.add(item.event)
    return images, usage


def _image_json(image: ImageData, as_url: bool) -> dict[str, str]:
    encoded = base64.b64encode(image.data).decode()
    return {"url": f"data:{image.mime_type};base64,{encoded}"} if as_url else {"b64_json": encoded}


def _usage(usage: UsageSum) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt,
        "input_tokens_details": {"text_tokens": usage.prompt, "image_tokens": 0},
        "output_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
    }
