"""Google's `Schema` (an OpenAPI 3.0 subset with upper-case types) as a JSON Schema.

`responseSchema` and a function's `parameters` arrive in this form, with field
names in camelCase or snake_case (the SDK sends `property_ordering`); engines
take JSON Schema, so the adapter translates once. `nullable` becomes a null
type, `propertyOrdering` the order of `properties` (the order of the output's
keys), integers sent as strings (proto's int64) numbers.
"""

from __future__ import annotations

from typing import Any

from pydantic.alias_generators import to_snake

from openvertex.errors import InvalidArgument

_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
_COUNTS = {  # int64 in proto: may come as strings
    "min_items": "minItems",
    "max_items": "maxItems",
    "min_length": "minLength",
    "max_length": "maxLength",
    "min_properties": "minProperties",
    "max_properties": "maxProperties",
}
_PLAIN = ("title", "description", "enum", "pattern", "default", "minimum", "maximum", "required")
# Google's formats that JSON Schema knows; the others (int32, float, enum…) say nothing more.
_FORMATS = {"date-time", "date", "time", "email", "uuid", "duration", "uri", "ipv4", "ipv6"}
_KNOWN = {
    *_COUNTS,
    *_PLAIN,
    "type",
    "format",
    "nullable",
    "items",
    "properties",
    "property_ordering",
    "any_of",
    "example",
    "additional_properties",
    "defs",
    "ref",
}


def to_json_schema(schema: Any, where: str) -> dict[str, Any]:
    """`schema` as JSON Schema; a 400 naming `where` for what is not a Google Schema."""
    if not isinstance(schema, dict):
        raise InvalidArgument("A Schema must be a JSON object.", param=where)
    fields = {to_snake(key): value for key, value in schema.items()}
    unknown = sorted(set(fields) - _KNOWN)
    if unknown:
        raise InvalidArgument(f'Unknown name "{unknown[0]}" in a Schema.', param=where)
    out: dict[str, Any] = {}
    kind = fields.get("type")
    if kind is not None:
        if not isinstance(kind, str) or kind.upper() not in _TYPES | {"TYPE_UNSPECIFIED"}:
            raise InvalidArgument(
                f"Schema type {kind!r} is not one of {', '.join(sorted(_TYPES))}.", param=where
            )
        if kind.upper() != "TYPE_UNSPECIFIED":
            out["type"] = kind.lower()
    if fields.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
    for name in _PLAIN:
        if name in fields:
            out[name] = fields[name]
    for name, key in _COUNTS.items():
        if name in fields:
            out[key] = _count(fields[name], f"{where}.{key}")
    if fields.get("format") in _FORMATS:
        out["format"] = fields["format"]
    if "example" in fields:
        out["examples"] = [fields["example"]]
    if "items" in fields:
        out["items"] = to_json_schema(fields["items"], f"{where}.items")
    if "any_of" in fields:
        out["anyOf"] = [
            to_json_schema(s, f"{where}.anyOf[{i}]") for i, s in enumerate(_list(fields["any_of"]))
        ]
    if "properties" in fields:
        out["properties"] = _properties(fields, where)
    if "additional_properties" in fields:
        extra = fields["additional_properties"]
        out["additionalProperties"] = (
            extra
            if isinstance(extra, bool)
            else to_json_schema(extra, f"{where}.additionalProperties")
        )
    if "defs" in fields:
        defs = fields["defs"] if isinstance(fields["defs"], dict) else {}
        out["$defs"] = {k: to_json_schema(v, f"{where}.defs.{k}") for k, v in defs.items()}
    if "ref" in fields:
        out["$ref"] = fields["ref"]
    return out


def _properties(fields: dict[str, Any], where: str) -> dict[str, Any]:
    properties = fields["properties"]
    if not isinstance(properties, dict):
        raise InvalidArgument("Schema properties must be an object.", param=f"{where}.properties")
    order = _list(fields.get("property_ordering") or [])
    if set(order) - set(properties) or len(set(order)) < len(order):
        raise InvalidArgument(
            "propertyOrdering must name each property at most once, and only properties.",
            param=f"{where}.propertyOrdering",
        )
    names = [*order, *(name for name in properties if name not in order)]
    return {name: to_json_schema(properties[name], f"{where}.properties.{name}") for name in names}


def _count(value: Any, where: str) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{value!r} is not an integer.", param=where) from None
    if isinstance(value, bool) or count < 0 or (count != value and str(count) != value):
        raise InvalidArgument(f"{value!r} is not a count.", param=where)
    return count


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
