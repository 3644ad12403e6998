"""Turn YAML syntax errors and pydantic validation errors into one-line `InputError`s.

Each message names the file, the field path (`array.dataflow`, `memories[0].size_bytes`) and what
is allowed, taken from the pydantic error (literal choices, bounds, the model's known keys).
"""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from rctsim.errors import MAX_NAME_CHARS, MAX_TEXT_CHARS, InputError, did_you_mean

TOP_LEVEL = "(top level)"
"""Field name used for errors about the document as a whole."""


def field_path(loc: tuple[int | str, ...]) -> str:
    """`('memories', 0, 'size_bytes')` -> `memories[0].size_bytes`; `()` -> `(top level)`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or TOP_LEVEL


def _strip(tp: Any) -> Any:
    """Remove Annotated[...] and `X | None` wrappers around a type."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model class found at `loc` inside `model`, or None."""
    tp: Any = model
    for part in loc:
        tp = _strip(tp)
        if isinstance(part, int):
            args = get_args(tp)
            tp = args[0] if args else None
        elif _is_model(tp) and part in tp.model_fields:
            tp = tp.model_fields[part].annotation
        else:
            return None
    tp = _strip(tp)
    return tp if _is_model(tp) else None


def allowed_keys(model: type[BaseModel] | None) -> str | None:
    """Comma-separated field names of a model, for error messages."""
    return ", ".join(model.model_fields) if model is not None else None


def _singular(name: str) -> str:
    return name[:-3] + "y" if name.endswith("ies") else name.removesuffix("s")


def _named_field(model: type[BaseModel] | None, message: str) -> str | None:
    """The field of `model` a validator message talks about (`int_bits`, `memories`), if any."""
    words = set(re.findall(r"[a-z_0-9]+", message))
    for name in model.model_fields if model is not None else ():
        if name in words or _singular(name) in words:
            return name
    return None


def _describe(error: dict[str, Any], model: type[BaseModel]) -> tuple[str, str, str | None]:
    """(field, problem, allowed) for one pydantic error dict."""
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    if error["type"] == "extra_forbidden":
        parent = model_at(model, loc[:-1])
        keys = allowed_keys(parent)
        hint = did_you_mean(str(loc[-1]), list(parent.model_fields) if parent else [])
        return (field_path(loc), f"unknown key '{loc[-1]}'{hint} (allowed keys: {keys})", None)
    if error["type"] == "value_error":
        named = _named_field(model_at(model, loc), message)
        return field_path(loc + ((named,) if named else ())), message, None
    if error["type"] == "missing":
        return field_path(loc), "required key is missing", None
    if error["type"] == "model_type":
        keys = allowed_keys(model_at(model, loc))
        return field_path(loc), "expected a mapping of keys", keys
    if isinstance(value, str | int | float | bool) or value is None:
        message += f", got {value!r}"
    if isinstance(value, str) and YAML11_FLOAT_PITFALL.match(value.strip()):
        message += (f" (YAML 1.1 reads {value} as text: a float needs a dot and a signed "
                    f"exponent, e.g. {yaml11_float(value)})")
    return field_path(loc), message, None


YAML11_FLOAT_PITFALL = re.compile(r"^[-+]?(\d[\d_]*)?\.?\d*[eE]\d+$|^[-+]?\d[\d_]*[eE][-+]?\d+$")
"""Numbers YAML 1.1 (PyYAML) reads as strings: an exponent without a sign (`200.0e6`) or a
mantissa without a dot (`2e+8`)."""


def yaml11_float(text: str) -> str:
    """The spelling YAML 1.1 reads as the float `text` means: `200.0e6` -> `200.0e+6`."""
    mantissa, _, exponent = text.strip().lower().partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent[:1] not in "+-":
        exponent = "+" + exponent
    return f"{mantissa}e{exponent}"


ERROR_ORDER = ("extra_forbidden",)
"""Pydantic error types reported before the others: an unknown key usually explains the rest
(a misspelt key is also a missing one)."""
MAX_LISTED = 4
"""How many further errors are listed briefly after the first."""


def validation_input_error(source: str, err: ValidationError, model: type[BaseModel]) -> InputError:
    """One-line InputError: unknown keys first, then the other errors listed briefly."""
    errors = sorted(err.errors(), key=lambda e: e["type"] not in ERROR_ORDER)
    field, problem, allowed = _describe(dict(errors[0]), model)
    others = []
    for error in errors[1:1 + MAX_LISTED]:
        other_field, other_problem, _ = _describe(dict(error), model)
        others.append(f"{other_field}: {other_problem.split(' (allowed keys')[0]}")
    if len(errors) > 1 + MAX_LISTED:
        others.append(f"{len(errors) - 1 - MAX_LISTED} more")
    if others:
        problem += f"; also {'; '.join(others)}"
    return InputError(source, field, problem, allowed)


def yaml_input_error(source: str, err: yaml.YAMLError) -> InputError:
    """One-line InputError for a YAML syntax error, naming the line and column."""
    mark = getattr(err, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else TOP_LEVEL
    problem = getattr(err, "problem", None) or str(err)
    return InputError(source, where, f"YAML syntax error: {problem}")


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping names the same key twice (YAML says keys are unique; PyYAML keeps the last)."""


_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it (tens of times faster on a long list), else Python's."""


class UniqueKeyLoader(_BASE_LOADER):  # type: ignore[misc,valid-type]
    """A safe YAML loader that refuses a key given twice in one mapping, naming both lines."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    break
                if first is not None:
                    raise DuplicateKeyError(
                        None, None, f"duplicate key {str(key)[:80]!r} (first on line "
                        f"{first.start_mark.line + 1}, again on line "
                        f"{key_node.start_mark.line + 1})", key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """YAML text to Python objects with unique keys (`UniqueKeyLoader`)."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def parse_mapping(source: str, text: str, model: type[BaseModel]) -> dict[str, Any]:
    """Parse YAML text that must be a mapping; errors become InputError."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        raise yaml_input_error(source, err) from None
    except RecursionError:
        raise InputError(source, TOP_LEVEL, "nested too deeply to read",
                         "a YAML mapping nested a few levels deep") from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise InputError(source, TOP_LEVEL, f"a value cannot be read: {err}",
                         "numbers of ordinary size") from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise InputError(
            source, TOP_LEVEL, f"expected a mapping of keys, got {got}", allowed_keys(model)
        )
    check_sizes(source, data)
    return data


MAX_DEPTH = 32
"""Deepest nesting of mappings and lists in a YAML input."""


def check_sizes(source: str, data: Any, path: tuple[int | str, ...] = ()) -> None:
    """Names (`name` values and keys) at most MAX_NAME_CHARS, other strings at most
    MAX_TEXT_CHARS, nesting at most MAX_DEPTH levels: one InputError line otherwise."""
    if len(path) > MAX_DEPTH:
        raise InputError(source, field_path(path[:MAX_DEPTH]), "nested too deeply",
                         f"at most {MAX_DEPTH} levels")
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and len(key) > MAX_NAME_CHARS:
                raise InputError(source, field_path(path), f"a key of {len(key):,} characters",
                                 f"keys of at most {MAX_NAME_CHARS} characters")
            check_sizes(source, value, (*path, str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            check_sizes(source, value, (*path, i))
    elif isinstance(data, str):
        limit = MAX_NAME_CHARS if path and path[-1] == "name" else MAX_TEXT_CHARS
        if len(data) > limit:
            raise InputError(source, field_path(path), f"a string of {len(data):,} characters",
                             f"at most {limit:,} characters")


def validate_model(source: str, data: dict[str, Any], model: type[BaseModel]) -> Any:
    """`model.model_validate(data)`, with errors turned into one-line InputError."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise validation_input_error(source, err, model) from None
