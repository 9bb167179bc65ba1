"""The one way a generation runs, whatever the wire: the only orchestration there is.

validate → quota → admission → media (for an engine that lacks the modality)
→ engine (candidates side by side) → drain → metering. A wire adapter parses
its request into a `GenerationRequest`, calls `start`, and folds the events
back into its own format; the ledger, metrics and quota charge follow from the
request's record when the response ends (`api/lifecycle.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from openvertex.auth.credentials import Principal
from openvertex.core.embedding import MAX_INPUTS, Embedding, EmbeddingRequest
from openvertex.core.events import ChoiceEvent
from openvertex.core.reasoning import with_budget
from openvertex.core.request import Audio, GenerationRequest, Image, Part, Text
from openvertex.engines.base import Engine, embeds
from openvertex.errors import (
    FailedPrecondition,
    InvalidArgument,
    OpenVertexError,
    ResourceExhausted,
    Unavailable,
)
from openvertex.media.cascade import MediaReader
from openvertex.record import RequestRecord
from openvertex.serving.candidates import generate_candidates
from openvertex.serving.draining import Drain
from openvertex.serving.metering import metered
from openvertex.serving.quotas import Quotas
from openvertex.serving.registry import ModelRegistry, ServedModel


class GenerationService:
    def __init__(
        self, registry: ModelRegistry, quotas: Quotas, drain: Drain, media: MediaReader | None
    ) -> None:
        self.registry = registry
        self.quotas = quotas
        self.drain = drain
        self.media = media

    def check_room(self, served: ServedModel | None = None) -> None:
        """Refuse at once when the request could not even wait: before its body is read.

        Without a model (it is in the body), refuse only if every engine is full.
        """
        if served is not None:
            served.admission.check_room()
            return
        refusals = []
        for _, admission in self.registry.engines:
            try:
                admission.check_room()
                return
            except (ResourceExhausted, Unavailable) as exc:
                refusals.append(exc)
        if refusals:
            raise refusals[0]

    def media_input(self, served: ServedModel) -> dict[str, str]:
        """How each modality the engine lacks reaches it: {"image": "…OCR…"}."""
        if self.media is None:
            return {}
        own = served.engine.capabilities.input_modalities
        return {kind: how for kind, how in self.media.modalities.items() if kind not in own}

    def describe(self, served: ServedModel) -> dict[str, Any]:
        """What really runs underneath a served name, for both wires' model lists."""
        caps = served.engine.capabilities
        media = {} if embeds(served.engine) else self.media_input(served)
        details: dict[str, Any] = {
            "backend": caps.backend,
            "weights": caps.weights,
            "context_window": caps.context_window,
            "input_modalities": [*caps.input_modalities, *media],
            "output_modalities": list(caps.output_modalities),
            "ready": served.engine.ready,
            **caps.details,
        }
        if media:
            details["media_input"] = media  # how a text model gets them: honestly
        return details

    def resolve(self, served: ServedModel, request: GenerationRequest) -> GenerationRequest:
        """What the wire asked, with the served model's policy: its default temperature
        and top_p where the request gives none, an effort level as its thinking budget."""
        s = request.sampling
        sampling = dataclasses.replace(
            s,
            temperature=served.temperature if s.temperature is None else s.temperature,
            top_p=served.top_p if s.top_p is None else s.top_p,
        )
        thinking = with_budget(request.thinking, served.effort_budgets)
        return dataclasses.replace(request, sampling=sampling, thinking=thinking)

    def require_generator(self, served: ServedModel, name: str) -> Engine:
        if embeds(served.engine):
            raise InvalidArgument(
                f"Model {name!r} is an embedding model: it answers embedding requests "
                "(`embeddings`, `:predict`, `:embedContent`), not generation.",
                param="model",
            )
        return served.engine

    async def check(self, served: ServedModel, request: GenerationRequest) -> None:
        """Every 400 a request can earn, before any quota or slot is spent on it."""
        self.require_generator(served, request.model)
        if not served.engine.ready:
            raise Unavailable(
                "The model is not ready (still loading, or no upstream replica is healthy); "
                "retry in a moment."
            )
        if request.image is not None:
            self._check_draws(served, request)
        if request.tools is not None and not served.tools:
            raise InvalidArgument(
                f"Model {request.model!r} is served without tool support.",
                param=request.tools.tools[0].where if request.tools.tools else "tools",
            )
        lacking = _lacking(served, request)
        if self.media is None:
            urls = [p for p in request.media if isinstance(p, Image) and p.data is None]
            if urls and not lacking:
                raise InvalidArgument(
                    "Image URLs are fetched only with the media reader on (media = true).",
                    param=urls[0].where,
                )
        if lacking:
            if self.media is None:
                raise InvalidArgument(
                    f"This model reads text only; it cannot take {_kind(lacking[0])} input.",
                    param=lacking[0].where,
                )
            self.media.check(lacking)
        assert not embeds(served.engine)  # require_generator refused it
        await served.engine.check(request)

    def drawers(self) -> str:
        """Which served models draw, or how to serve one."""
        drawers = [
            m.name for m in self.registry if "image" in m.engine.capabilities.output_modalities
        ]
        if drawers:
            return f"Models that draw here: {', '.join(drawers)}."
        return (
            "No image model is configured: serve one from an upstream that draws, "
            "a [[models]] entry with `upstreams` and `image_generation = true`."
        )

    def _check_draws(self, served: ServedModel, request: GenerationRequest) -> None:
        """An image is asked for: never a text answer pretending to be one."""
        caps = served.engine.capabilities
        if "image" in caps.output_modalities:
            return
        assert request.image is not None  # check() asks this of image requests only
        raise FailedPrecondition(
            f"Model {request.model!r} cannot draw: it is {caps.weights} on {caps.backend}, "
            f"which writes text only. {self.drawers()}",
            param=request.image.where,
        )

    async def start(
        self,
        served: ServedModel,
        request: GenerationRequest,
        caller: Principal,
        record: RequestRecord,
    ) -> AsyncGenerator[ChoiceEvent, None]:
        """The reply's events, once the first is there (so a refused prompt is still a 4xx).

        Cancelling this (the client left) gives back the quota and the place in line.
        """
        await self.check(served, request)
        request = dataclasses.replace(request, cache_scope=caller.project)
        await self.quotas.admit(caller.project)
        try:  # slots, one per candidate, held until the reply ends; or a fast 429
            enter = served.admission.enter(record, choices=request.candidates)
            await self.drain.bounded(enter)
        except BaseException:
            self.quotas.refund(caller.project)
            raise
        request = await self._read_media(served, request, record)
        assert not embeds(served.engine)  # check() refused it
        events = generate_candidates(served.engine, request)
        return await _started(metered(self.drain.cut(events), record, request.candidates))

    async def start_in_turn(
        self,
        served: ServedModel,
        requests: list[GenerationRequest],
        caller: Principal,
        record: RequestRecord,
    ) -> AsyncGenerator[ChoiceEvent, None]:
        """Several requests answered as one (a legacy completion's prompts): each runs in
        turn as `start` runs any (its own quota count and slots, freed as soon as it is
        done, so a long list never waits on slots it holds itself), its choices numbered
        after the previous one's, its tokens added to `record`. The first one's events
        are already there, so its refusal is still a 4xx."""
        if len(requests) == 1:
            return await self.start(served, requests[0], caller, record)
        return await _started(self._in_turn(served, requests, caller, record))

    async def _in_turn(
        self,
        served: ServedModel,
        requests: list[GenerationRequest],
        caller: Principal,
        record: RequestRecord,
    ) -> AsyncGenerator[ChoiceEvent, None]:
        offset = 0
        for request in requests:
            own = RequestRecord(record.request_id, record.method, record.path)
            record.on_end(own.end)  # its slots are freed with the request at the latest
            try:
                events = await self.start(served, request, caller, own)
                async with aclosing(events):
                    async for item in events:
                        yield ChoiceEvent(offset + item.index, item.event)
            except OpenVertexError as exc:  # a refusal after the first one ends the stream
                own.stream_error = own.stream_error or exc.code
                raise
            finally:
                own.end()  # frees its slots now, for the next one
                record.add(own)
            offset += request.candidates

    async def embed(
        self,
        served: ServedModel,
        request: EmbeddingRequest,
        caller: Principal,
        record: RequestRecord,
    ) -> list[Embedding]:
        """Vectors for the request's texts, billed to the project as prompt tokens."""
        if not embeds(served.engine):
            others = [m.name for m in self.registry if embeds(m.engine)]
            raise InvalidArgument(
                f"Model {request.model!r} generates text; it does not embed. "
                + (f"Embedding models here: {', '.join(others)}." if others else ""),
                param="model",
            )
        if not request.inputs:
            raise InvalidArgument("There is no text to embed.", param="input")
        if len(request.inputs) > MAX_INPUTS:
            raise InvalidArgument(
                f"{len(request.inputs)} texts in one request; at most {MAX_INPUTS}.",
                param=request.inputs[MAX_INPUTS].where,
            )
        await self.quotas.admit(caller.project)
        try:
            await self.drain.bounded(served.admission.enter(record))
        except BaseException:
            self.quotas.refund(caller.project)
            raise
        vectors = await self.drain.bounded(served.engine.embed(request))
        record.prompt_tokens += sum(vector.tokens for vector in vectors)
        return vectors

    async def count_tokens(self, served: ServedModel, request: GenerationRequest) -> int:
        """The prompt's tokens as the model would read it; media it cannot take count as
        a short placeholder, since what they hold is known only once they are read."""
        await self.check(served, request)
        lacking = {id(part) for part in _lacking(served, request)}

        def placeholder(part: Part) -> Part:
            if isinstance(part, Image | Audio) and id(part) in lacking:
                return Text(f"[{_kind(part)}]")
            return part

        messages = tuple(
            dataclasses.replace(m, parts=tuple(placeholder(p) for p in m.parts))
            for m in request.messages
        )
        assert not embeds(served.engine)  # check() refused it
        return await served.engine.count_tokens(dataclasses.replace(request, messages=messages))

    async def _read_media(
        self, served: ServedModel, request: GenerationRequest, record: RequestRecord
    ) -> GenerationRequest:
        """Media the engine cannot take, read into text by the cascade (OCR, Whisper);
        image URLs for an engine that sees, fetched through the URL guard.

        The reading stops when this is cancelled (the client left) or the drain deadline
        passes, and what was read is billed to the project on the record even then.
        """
        if self.media is None or not request.media:
            return request
        if kinds := frozenset(_kind(part) for part in _lacking(served, request)):
            reading = self.media.to_text(request, kinds, bill=record.bill_media)
            request = await self.drain.bounded(reading)
        return await self.drain.bounded(self.media.fetch_images(request))


def _kind(part: Image | Audio) -> str:
    return "image" if isinstance(part, Image) else "audio"


def _lacking(served: ServedModel, request: GenerationRequest) -> list[Image | Audio]:
    """The request's media of a kind the engine cannot take itself."""
    own = served.engine.capabilities.input_modalities
    return [part for part in request.media if _kind(part) not in own]


async def _started(
    events: AsyncGenerator[ChoiceEvent, None],
) -> AsyncGenerator[ChoiceEvent, None]:
    """`events` once the first is there: a refusal before it is still a 4xx."""
    try:
        first = await anext(events)
    except BaseException:
        await events.aclose()
        raise
    return _prepend(first, events)


async def _prepend(
    first: ChoiceEvent, rest: AsyncGenerator[ChoiceEvent, None]
) -> AsyncGenerator[ChoiceEvent, None]:
    """`first`, then the rest; closing this closes the rest."""
    try:
        yield first
        async for item in rest:
            yield item
    finally:
        await rest.aclose()
