"""The one format every prompted model writes calls in, Qwen's (Hermes style):

    <tool_call>
    {"name": "get_weather", "arguments": {"location": "Chicago"}}
    </tool_call>

For a model whose chat template knows nothing of tools, the system turn gets the
tool list and this format; earlier calls and their results are written back into
the conversation the same way. Qwen's templates teach it natively, so one
grammar and one reader serve both kinds of model.
"""

from __future__ import annotations

import json
from typing import Any

from openvertex.core.request import Tool
from openvertex.engines.prompted.turns import Turn, with_system_instruction

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
INLINE_OPEN = '{"name":'  # a call written as plain JSON inside the text
RESULT_OPEN, RESULT_CLOSE = "<tool_response>", "</tool_response>"


def template_tool(tool: Tool) -> dict[str, Any]:
    """A tool as chat templates expect it (OpenAI's shape, which Hugging Face adopted)."""
    function = {"name": tool.name, "description": tool.description}
    return {"type": "function", "function": {**function, "parameters": tool.parameters}}


def tools_instruction(tools: tuple[Tool, ...]) -> str:
    listing = "\n".join(json.dumps(template_tool(tool), ensure_ascii=False) for tool in tools)
    return (
        "You can call these functions; each comes with the JSON Schema of its arguments:\n"
        f"<tools>\n{listing}\n</tools>\n"
        f"To call a function, write {CALL_OPEN} on its own line, then one JSON object with "
        f'the function\'s "name" and its "arguments", then {CALL_CLOSE}, for example:\n'
        f'{CALL_OPEN}\n{{"name": "{tools[0].name}", "arguments": {{...}}}}\n{CALL_CLOSE}\n'
        f"Results come back in {RESULT_OPEN} blocks. If no function helps, answer in plain text."
    )


def call_text(message: Turn) -> str:
    """An assistant message with its calls written out as the model would write them."""
    calls = [
        f'{CALL_OPEN}\n{{"name": {json.dumps(c.name)}, "arguments": {c.arguments}}}\n{CALL_CLOSE}'
        for c in message.tool_calls
    ]
    return "\n".join([message.content, *calls] if message.content else calls)


def as_plain_text(messages: tuple[Turn, ...], tools: tuple[Tool, ...]) -> tuple[Turn, ...]:
    """The conversation in roles any template renders: system, user, assistant."""
    out: list[Turn] = []
    for message in messages:
        if message.role == "tool":
            result = f"{RESULT_OPEN}\n{message.content}\n{RESULT_CLOSE}"
            if out and out[-1].role == "user" and out[-1].content.startswith(RESULT_OPEN):
                out[-1] = Turn("user", f"{out[-1].content}\n{result}")  # one turn of results
            else:
                out.append(Turn("user", result))
        elif message.tool_calls:
            out.append(Turn("assistant", call_text(message)))
        else:
            out.append(message)
    return with_system_instruction(tuple(out), tools_instruction(tools) if tools else "")
