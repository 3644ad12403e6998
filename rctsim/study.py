"""Helpers for reproducible studies (the repository's `studies/` use them; so can yours):
a validated YAML config, deterministic CSV and Markdown tables, figures saved as JSON.

Outputs are written deterministically: numbers are rounded to a fixed number of significant
digits, so the same inputs give the same bytes, and a study's committed outputs can be checked
by rerunning it (`git diff --stat` empty).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from hwmodels.validation import parse_mapping, validate_model
from rctsim.errors import InputError
from rctsim.sweep.table import to_csv

SIG_DIGITS = 6
"""Significant digits of floats written to CSV files."""

Model = TypeVar("Model", bound=BaseModel)


def load_config(path: str | Path, model: type[Model]) -> Model:
    """Read a YAML config and validate it; one `InputError` line naming file and field if bad."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(path), "(file)", f"cannot be read: {err}",
                         "an existing YAML file") from None
    return validate_model(str(path), parse_mapping(str(path), text, model), model)


def validate(source: str, data: dict[str, Any], model: type[Model]) -> Model:
    """`model.model_validate(data)` with errors as one `InputError` line naming `source` and the
    field (the same wording as the hardware loader)."""
    return validate_model(source, data, model)


def root_path(relative: str | Path, root: str | Path) -> Path:
    """A path from a config, relative to `root` (absolute paths kept)."""
    path = Path(relative)
    return path if path.is_absolute() else Path(root) / path


def gemm_layers(model: str, batch_size: int, names: Sequence[str],
                source: str = "config.yaml") -> list[dict[str, Any]]:
    """Forward GEMMs (name, m, n, k) of the named layers of a shape-only model."""
    from workloads.shapes import shape_model

    layers = {layer.name: layer for layer in shape_model(model, batch_size)}
    missing = [name for name in names if name not in layers]
    if missing:
        raise InputError(source, "layer", f"unknown layer {missing[0]!r} of {model}",
                         ", ".join(n for n, la in layers.items() if la.has_gemm))
    return [{"name": n, "m": layers[n].m, "n": layers[n].n, "k": layers[n].k} for n in names]


def fmt_number(value: Any, digits: int = SIG_DIGITS) -> str:
    """A CSV cell: floats to `digits` significant digits, None empty, the rest as str."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if math.isnan(value):
        return "nan"
    return f"{value:.{digits}g}"


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """CSV text of `rows` (dicts) in the order of `columns`, numbers by `fmt_number`."""
    return to_csv(rows, columns, cell=fmt_number)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts of strings."""
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_csv_text(text: str) -> list[dict[str, str]]:
    """Rows of CSV text as dicts of strings."""
    return list(csv.DictReader(io.StringIO(text)))


def md_table(rows: Iterable[Sequence[Any]], header: Sequence[str],
             align: str | None = None) -> str:
    """A Markdown table; `align` is one letter per column (l, r), default right for all."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a signed percentage (`-12.3%`); `n/a` for None."""
    if value is None:
        return "n/a"
    text = f"{100 * value:.{digits}f}%"
    return text[1:] if text.startswith("-") and float(text[:-1]) == 0 else text


def pct_range(low: float, high: float, digits: int = 1) -> str:
    """`a% to b%`, or one percentage when both read the same."""
    lo, hi = pct(low, digits), pct(high, digits)
    return lo if lo == hi else f"{lo} to {hi}"


def sci(value: float, digits: int = 3) -> str:
    """A number to `digits` significant digits in plain or scientific notation."""
    return f"{value:.{digits}g}"


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` (creating the folder); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_figure(path: str | Path, figure: Any) -> Path:
    """Write a plotly figure as JSON (open with `plotly.io.read_json(path).show()`)."""
    figure.update_layout(template="none")
    data = json.loads(figure.to_json())
    return write_text(path, json.dumps(data, indent=None, sort_keys=True) + "\n")


def percentile_summary(values: Sequence[float]) -> dict[str, float]:
    """n, mean, median, 90th percentile, max of |values| and the share exactly zero."""
    mags = sorted(abs(v) for v in values)
    n = len(mags)
    if n == 0:
        return {"n": 0, "zero_share": 0.0, "mean_abs": 0.0, "median_abs": 0.0,
                "p90_abs": 0.0, "max_abs": 0.0}
    return {"n": n, "zero_share": sum(v == 0 for v in mags) / n, "mean_abs": sum(mags) / n,
            "median_abs": _quantile(mags, 0.5), "p90_abs": _quantile(mags, 0.9),
            "max_abs": mags[-1]}


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of sorted values (numpy's default method)."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)
