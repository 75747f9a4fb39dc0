"""Would a consumer built on the committed schema break on records of the new one?

A consumer reads records; a change breaks it when a field it may read goes away or changes
type, when a value it knows stops being allowed (a narrowed enum, a changed const), or when a
field becomes required that it never saw (a new required field: producers of the old shape,
still on the topic, do not write it). A new optional field, a new enum value and a relaxed
limit are compatible (consumers ignore what they do not know: docs/contracts.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Schema = Any
_KINDS = ("null", "boolean", "integer", "number", "string", "array", "object")


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every change from `old` to `new` that breaks a consumer of `old`, each naming its path."""
    return list(_compare(old, new, old, new, "$", set()))


def _resolve(schema: Schema, root: Schema) -> Schema:
    """The schema with a local `$ref` (#/$defs/...) followed, its own keywords merged over it."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        target: Any = root
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _variants(schema: Schema, root: Schema) -> list[Schema]:
    """The alternatives of a schema (anyOf/oneOf members, each resolved), or itself."""
    schema = _resolve(schema, root)
    if isinstance(schema, dict):
        members = schema.get("anyOf") or schema.get("oneOf")
        if members:
            return [variant for member in members for variant in _variants(member, root)]
    return [schema]


def _kinds(schema: Schema) -> set[str]:
    """The JSON types a (resolved, single) schema admits."""
    if not isinstance(schema, dict):
        return set(_KINDS) if schema is not False else set()
    if "const" in schema:
        return {_kind_of(schema["const"])}
    if "enum" in schema:
        return {_kind_of(value) for value in schema["enum"]}
    declared = schema.get("type")
    if declared is None:
        return {"object"} if "properties" in schema else set(_KINDS)
    kinds = set(declared) if isinstance(declared, list) else {declared}
    if "number" in kinds:
        kinds.add("integer")
    return kinds


def _kind_of(value: object) -> str:
    """The JSON type of a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _compare(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, seen: set[str]
) -> Iterator[str]:
    """The breaking changes at `path` and below."""
    key = f"{path}|{id(old)}|{id(new)}"
    if key in seen:
        return
    seen.add(key)
    old_variants = _variants(old, old_root)
    new_variants = _variants(new, new_root)
    old_kinds = set().union(*(_kinds(variant) for variant in old_variants))
    new_kinds = set().union(*(_kinds(variant) for variant in new_variants))
    added = new_kinds - old_kinds
    if added:
        yield (
            f"{path}: retyped, {sorted(old_kinds)} -> {sorted(new_kinds)} "
            f"(a consumer of the old schema cannot read {sorted(added)})"
        )
        return
    for kind in sorted(new_kinds):
        old_of_kind = [v for v in old_variants if kind in _kinds(v)]
        new_of_kind = [v for v in new_variants if kind in _kinds(v)]
        if len(old_of_kind) == 1 and len(new_of_kind) == 1:
            yield from _compare_single(
                old_of_kind[0], new_of_kind[0], old_root, new_root, path, seen
            )


def _compare_single(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, seen: set[str]
) -> Iterator[str]:
    """The breaking changes between two resolved schemas of the same kind."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    if "const" in old and "const" in new and old["const"] != new["const"]:
        yield f"{path}: constant changed, {old['const']!r} -> {new['const']!r}"
    if "enum" in old and "enum" in new:
        removed = [value for value in old["enum"] if value not in new["enum"]]
        if removed:
            yield f"{path}: enum narrowed, {removed} no longer allowed"
    if old.get("format") != new.get("format") and "format" in new:
        yield f"{path}: format changed, {old.get('format')!r} -> {new['format']!r}"
    yield from _compare_object(old, new, old_root, new_root, path, seen)
    if "items" in old and "items" in new:
        yield from _compare(old["items"], new["items"], old_root, new_root, f"{path}[]", seen)
    old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
    if isinstance(old_extra, dict) and isinstance(new_extra, dict):
        yield from _compare(old_extra, new_extra, old_root, new_root, f"{path}{{*}}", seen)
    yield from _compare_conditions(old, new, old_root, new_root, path, seen)


def _compare_object(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, seen: set[str]
) -> Iterator[str]:
    """Removed fields, new required fields, and the changes inside the fields both have."""
    old_properties: dict[str, Schema] = old.get("properties", {})
    new_properties: dict[str, Schema] = new.get("properties", {})
    for name in old_properties:
        if name not in new_properties:
            yield f"{path}.{name}: removed (a consumer of the old schema may read it)"
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required - set(old_properties)):
        yield f"{path}.{name}: new required field (records already written lack it)"
    for name, old_property in old_properties.items():
        if name in new_properties:
            yield from _compare(
                old_property, new_properties[name], old_root, new_root, f"{path}.{name}", seen
            )


def _compare_conditions(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, seen: set[str]
) -> Iterator[str]:
    """allOf if/then branches (a payload per event type), matched by their `if`."""
    new_branches = {_condition(branch): branch for branch in new.get("allOf", [])}
    for branch in old.get("allOf", []):
        condition = _condition(branch)
        match = new_branches.get(condition)
        if match is None:
            yield f"{path}: the branch when {condition} was removed"
        elif "then" in branch and "then" in match:
            yield from _compare(
                branch["then"], match["then"], old_root, new_root, f"{path}[{condition}]", seen
            )


def _condition(branch: Schema) -> str:
    """A branch's `if` as a short label: `type=purchase` for a const on one property."""
    condition = branch.get("if", {})
    properties = condition.get("properties", {}) if isinstance(condition, dict) else {}
    if len(properties) == 1:
        [(name, schema)] = properties.items()
        if isinstance(schema, dict) and "const" in schema:
            return f"{name}={schema['const']}"
    return repr(condition)
