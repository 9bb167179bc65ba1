"""Checks of intent that hold for every engine: is this a JSON Schema, is this tool set sane.

Whether an engine can enforce a valid schema is the engine's own question
(`Engine.check`); these are the mistakes no engine could serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import jsonschema

from openvertex.core.json_bounds import SchemaBudget
from openvertex.core.request import Tool, ToolUse
from openvertex.errors import InvalidArgument

NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


def check_json_schema(schema: Any, *, where: str, budget: SchemaBudget) -> None:
    """A 400 naming `where` unless `schema` is a valid JSON Schema within the budget.

    A schema that names no `$schema` is checked as draft 7, which reads the same
    keywords as 2020-12 for what engines enforce, at a fifth of the cost.
    """
    if not isinstance(schema, dict | bool):
        raise InvalidArgument("A JSON Schema must be an object.", param=where)
    budget.spend(schema, where=where)
    try:
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidArgument(f"The JSON Schema is not valid: {exc.message}", param=where) from None


def tool(
    name: str,
    description: str,
    parameters: dict[str, Any] | None,
    *,
    strict: bool,
    where: str,
    budget: SchemaBudget,
) -> Tool:
    """A function the model may call; its parameters must describe a JSON object."""
    parameters = parameters if parameters is not None else NO_PARAMETERS
    if parameters.get("type", "object") != "object":
        raise InvalidArgument("A function's parameters must describe a JSON object.", param=where)
    check_json_schema(parameters, where=where, budget=budget)
    return Tool(name, description, parameters, strict, where)


def tool_use(
    tools: Sequence[Tool],
    mode: Literal["auto", "required", "none"],
    allowed: Sequence[str] | None = None,
    *,
    parallel: bool = True,
    tools_where: str = "tools",
    choice_where: str = "tool_choice",
) -> ToolUse:
    """The tool set and its choice; `allowed` None means every tool."""
    names = [t.name for t in tools]
    if len(set(names)) < len(names):
        raise InvalidArgument("Function names must be unique.", param=tools_where)
    unknown = [name for name in allowed or () if name not in names]
    if unknown:
        raise InvalidArgument(
            f"{choice_where} names the function {unknown[0]!r}, which is not among the tools: "
            + ", ".join(names),
            param=choice_where,
        )
    return ToolUse(tuple(tools), mode, tuple(allowed or names), parallel=parallel)
