"""Structured outputs for the devkit fake: ``response_format`` checked as OpenAI documents it.

From OpenAI's structured-outputs guide and API reference:

- ``response_format.type`` is ``text``, ``json_object`` or ``json_schema``;
- ``json_schema`` needs ``json_schema.name`` (a-z, A-Z, 0-9, ``_`` and ``-``, at most 64) and a
  ``schema`` object; with ``strict: true`` only a subset of JSON Schema is allowed: the root is
  an object (not ``anyOf``), every object sets ``additionalProperties: false`` and lists every
  property in ``required`` (optional fields are a union with ``null``), and only the supported
  keywords appear; at most 5000 properties and 10 levels of nesting;
- ``json_object`` needs the word "JSON" somewhere in the messages;
- models before gpt-4o (gpt-3.5-turbo, gpt-4, gpt-4-turbo) refuse ``json_schema``.

The fake answers a ``json_schema`` request with a valid instance: the next scripted one
(checked against the schema first) or one built from the schema.
"""

from __future__ import annotations

import re
from typing import Any

from devkit.openai_rules import RequestRefused

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_PROPERTIES = 5000
MAX_DEPTH = 10
#: Models that predate structured outputs (their name starts so, without a newer family's prefix).
NO_JSON_SCHEMA = ("gpt-3.5-turbo", "gpt-4-turbo", "gpt-4-0", "gpt-4-1")
_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}
#: Keywords strict mode accepts (OpenAI's list of supported properties, plus annotations).
_STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
    "$defs", "$ref", "description", "title", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
}  # fmt: skip
_FORMAT_EXAMPLES = {
    "date": "2026-12-01",
    "date-time": "2026-12-01T09:00:00Z",
    "time": "09:00:00",
    "email": "coach@example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def json_schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """Check ``response_format``; the ``json_schema`` object when the reply must be one, else None."""
    response_format = body.get("response_format")
    if response_format is None:
        return None
    if not isinstance(response_format, dict):
        raise _refused("Invalid type for 'response_format': expected an object.", "response_format")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        if "json" not in str(body.get("messages")).lower():
            raise _refused(
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                "'json_object'.",
                "messages",
            )
        return None
    if kind != "json_schema":
        raise _refused(
            f"Invalid value: {kind!r}. Supported values are: 'text', 'json_object', and 'json_schema'.",
            "response_format.type",
        )
    model = str(body.get("model") or "")
    if model == "gpt-4" or model.startswith(NO_JSON_SCHEMA):
        raise _refused(
            "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
            "response_format",
        )
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        raise _refused(
            "Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema"
        )
    name = spec.get("name")
    if not isinstance(name, str):
        raise _refused(
            "Missing required parameter: 'response_format.json_schema.name'.",
            "response_format.json_schema.name",
        )
    if not NAME_RE.match(name):
        raise _refused(
            "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a "
            f"string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters, got {name!r}.",
            "response_format.json_schema.name",
        )
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        raise _refused("Invalid type for 'response_format.json_schema.schema': expected an object.", "schema")
    if spec.get("strict") is True:
        if schema.get("type") != "object" or "anyOf" in schema:
            raise _schema_refused(name, "the root schema must be an object, not anyOf")
        counted = [0]
        _check_strict(name, schema, schema, depth=1, counted=counted)
    return spec


def instance_of(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A small valid instance: enums take their first value, arrays one item, unions their first type."""
    root = root or schema
    if "$ref" in schema:
        return instance_of(_resolve(root, schema["$ref"]), root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return instance_of(schema["anyOf"][0], root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {key: instance_of(sub, root) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [instance_of(schema.get("items") or {}, root) for _ in range(count)]
    if kind == "string":
        return _FORMAT_EXAMPLES.get(str(schema.get("format")), "devkit")
    if kind in ("number", "integer"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


def instance_problem(
    value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, at: str = "$"
) -> str | None:
    """Why ``value`` is not an instance of ``schema`` (the strict subset), or None."""
    root = root or schema
    if "$ref" in schema:
        return instance_problem(value, _resolve(root, schema["$ref"]), root, at)
    if "anyOf" in schema:
        if all(instance_problem(value, option, root, at) for option in schema["anyOf"]):
            return f"{at}: matches none of anyOf"
        return None
    if "enum" in schema and value not in schema["enum"]:
        return f"{at}: {value!r} is not one of {schema['enum']}"
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if kinds and not any(_is_type(value, kind) for kind in kinds):
        return f"{at}: {value!r} is not of type {kinds}"
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key in schema.get("required") or ():
            if key not in value:
                return f"{at}: {key!r} is required"
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(properties)
            if extra:
                return f"{at}: unexpected properties {sorted(extra)}"
        for key, sub in properties.items():
            if key in value and (problem := instance_problem(value[key], sub, root, f"{at}.{key}")):
                return problem
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for n, item in enumerate(value):
            if problem := instance_problem(item, schema["items"], root, f"{at}[{n}]"):
                return problem
    return None


def _check_strict(
    name: str, schema: dict[str, Any], root: dict[str, Any], *, depth: int, counted: list[int]
) -> None:
    if depth > MAX_DEPTH:
        raise _schema_refused(name, f"at most {MAX_DEPTH} levels of nesting are supported")
    unknown = set(schema) - _STRICT_KEYWORDS
    if unknown:
        raise _schema_refused(name, f"{sorted(unknown)[0]!r} is not permitted")
    kinds = schema.get("type")
    for kind in [kinds] if isinstance(kinds, str) else list(kinds or []):
        if kind not in _TYPES:
            raise _schema_refused(name, f"type {kind!r} is not supported")
    for definition in (schema.get("$defs") or {}).values():
        _check_strict(name, definition, root, depth=depth + 1, counted=counted)
    for option in schema.get("anyOf") or ():
        _check_strict(name, option, root, depth=depth + 1, counted=counted)
    if "properties" in schema or kinds == "object" or (isinstance(kinds, list) and "object" in kinds):
        properties = schema.get("properties") or {}
        counted[0] += len(properties)
        if counted[0] > MAX_PROPERTIES:
            raise _schema_refused(name, f"at most {MAX_PROPERTIES} object properties are supported")
        if schema.get("additionalProperties") is not False:
            raise _schema_refused(name, "'additionalProperties' is required to be supplied and to be false")
        missing = [key for key in properties if key not in (schema.get("required") or ())]
        if missing:
            raise _schema_refused(
                name,
                "'required' is required to be supplied and to be an array including every key in "
                f"properties. Missing {missing[0]!r}",
            )
        for sub in properties.values():
            _check_strict(name, sub, root, depth=depth + 1, counted=counted)
    if isinstance(schema.get("items"), dict):
        _check_strict(name, schema["items"], root, depth=depth + 1, counted=counted)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "object": dict, "array": list}.get(kind, object))


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = root
    if ref != "#":
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
    return node


def _refused(message: str, param: str) -> RequestRefused:
    return RequestRefused(message, param=param, code=None)


def _schema_refused(name: str, reason: str) -> RequestRefused:
    return RequestRefused(
        f"Invalid schema for response_format '{name}': In context=(), {reason}.",
        param="response_format",
        code="invalid_json_schema",
    )
