"""Turning `k=v` command-line pairs into validated pydantic parameter models."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rctsim.errors import InputError

M = TypeVar("M", bound=BaseModel)


def split_pairs(pairs: list[str], option: str) -> dict[str, str]:
    """`["k=v", ...]` -> `{k: v}`; InputError for an item without `=` or a repeated key."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(option, pair, "not a key=value pair", "key=value")
        if key.strip() in out:
            raise InputError(option, key.strip(), "given twice", "each key once")
        out[key.strip()] = value.strip()
    return out


def parse_params(model: type[M], raw: dict[str, Any], option: str, owner: str) -> M:
    """Validate `raw` against `model`; InputError naming the key and the allowed keys or values."""
    allowed = ", ".join(model.model_fields)
    for key in raw:
        if key not in model.model_fields:
            raise InputError(option, key, f"unknown parameter for {owner}", allowed)
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "parameters"
        field = model.model_fields.get(key)
        hint = f"{key}: {field.description}" if field and field.description else allowed
        problem = first["msg"].removeprefix("Value error, ")
        raise InputError(option, key, f"{problem} ({owner})", hint) from None
