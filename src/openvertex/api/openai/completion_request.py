"""The legacy Completions request (prompt in, text out), validated, and what it means.

Lenient about unknown fields, as chat is; strict about types and ranges. What no
model here can do is refused by name rather than ignored: fill-in-the-middle
(`suffix`), `best_of` above `n`, `logit_bias`, token-id prompts, and the prompt's
own log probabilities (`echo` with `logprobs`).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from openvertex.api.openai.request import MAX_INT32, StreamOptions, Wire, stop_sequences
from openvertex.core.request import GenerationRequest, Sampling, Thinking
from openvertex.errors import InvalidArgument

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for this API
MAX_PROMPTS = 32


class CompletionRequest(Wire):
    model: str = Field(min_length=1)
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_INT32)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=8)
    best_of: int | None = Field(default=None, ge=1, le=8)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: bool | None = None
    suffix: str | None = None
    logit_bias: dict[str, int] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    user: str | None = None

    @model_validator(mode="after")
    def _servable(self) -> CompletionRequest:
        if self.suffix:
            raise InvalidArgument(
                "suffix is not supported: the models here do no fill-in-the-middle; "
                "put all the text before the gap in the prompt.",
                param="suffix",
            )
        if self.best_of is not None and self.best_of != (self.n or 1):
            raise InvalidArgument(
                "best_of must equal n (or be left out): every generated choice is returned.",
                param="best_of",
            )
        if self.logit_bias:
            raise InvalidArgument("logit_bias is not supported here.", param="logit_bias")
        if self.echo and self.logprobs is not None:
            raise InvalidArgument(
                "echo with logprobs is not supported: the prompt's own log probabilities "
                "are not computed. Leave out one of them.",
                param="echo",
            )
        stop_sequences(self.stop)
        self._check_prompts()
        return self

    def _check_prompts(self) -> None:
        prompt = self.prompt
        if isinstance(prompt, list) and any(not isinstance(p, str) for p in prompt):
            raise InvalidArgument(
                "A prompt of token ids is not supported here; send the prompt as text "
                "(a string, or a list of strings).",
                param="prompt",
            )
        if isinstance(prompt, list) and not 1 <= len(prompt) <= MAX_PROMPTS:
            raise InvalidArgument(
                f"prompt takes 1 to {MAX_PROMPTS} strings; it has {len(prompt)}.",
                param="prompt",
            )
        if "" in self.prompts:  # llama.cpp would generate nothing from nothing
            raise InvalidArgument(
                "A prompt must not be empty: the model continues the text it is given.",
                param="prompt",
            )

    @property
    def prompts(self) -> tuple[str, ...]:
        """Each prompt of the request (checked to be text)."""
        return (self.prompt,) if isinstance(self.prompt, str) else tuple(self.prompt)  # type: ignore[arg-type]  # text only: the validator refused token ids


def to_generation_requests(body: CompletionRequest) -> list[GenerationRequest]:
    """One wire-neutral request per prompt: what the client asked, before the model's
    defaults."""
    sampling = Sampling(
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        presence_penalty=body.presence_penalty or 0.0,
        frequency_penalty=body.frequency_penalty or 0.0,
        stop=stop_sequences(body.stop),
        max_tokens=body.max_tokens or DEFAULT_MAX_TOKENS,
        logprobs=body.logprobs is not None,
        top_logprobs=body.logprobs or 0,
    )
    return [
        GenerationRequest(
            model=body.model,
            messages=(),
            sampling=sampling,
            candidates=body.n or 1,
            thinking=Thinking(budget=0),
            stream=bool(body.stream),
            prompt=prompt,
        )
        for prompt in body.prompts
    ]
