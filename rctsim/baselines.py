"""Counterfactual baselines: named, parameterised training policies replayed on a trace's layers.

A baseline is written `name` or `name:key=value,key=value` (docs/policies.md, "Baselines"), e.g.
`qat`, `mixed-bf16`, `qat:dgrad_weights=master`, `qat-int8g:g_q=6`. `parse_baseline` is the one
place that reads that syntax; `storage.baseline_formats` turns a parsed baseline into formats.
The trace format's policy names stay `fp32`/`qat`/`rct`/`apt`: a baseline's counterfactual trace
is recorded under the trace policy it belongs to (`Baseline.policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rctsim.errors import InputError

FLOATS: tuple[str, ...] = ("fp32", "fp16", "bf16")
"""Floating-point compute formats a baseline's GEMMs may run at."""


@dataclass(frozen=True)
class Baseline:
    """One counterfactual baseline: the formats its GEMMs run at and the copies it keeps."""

    name: str
    """The baseline's name (`BASELINES` key)."""
    label: str
    """How results name it: the text as written (name and parameters)."""
    policy: str
    """The trace policy its counterfactual trace records (`qat` or `fp32`)."""
    forward: str
    """Forward GEMM format: `int` (w_q-bit weights x a_q-bit activations) or a float in FLOATS."""
    backward: str
    """dgrad/wgrad format: `int` (g_q-bit gradients, Banner et al.) or a float in FLOATS."""
    master: bool
    """Whether an fp32 master copy is kept beside the working copy of the weights."""
    w_q: int = 8
    """Bits of the integer forward weights (forward `int`)."""
    a_q: int = 8
    """Bits of the integer forward activations (forward `int`)."""
    g_q: int = 8
    """Bits of the integer gradients (backward `int`)."""
    dgrad_weights: str | None = None
    """QAT: which weight copy dgrad reads (`quantised`, `master`); None: the run's option."""

    @property
    def bits(self) -> tuple[int, int, int, int]:
        """The (w, a, g, acc) bits its counterfactual trace records."""
        def width(fmt: str, q: int) -> int:
            return q if fmt == "int" else (32 if fmt == "fp32" else 16)
        return (width(self.forward, self.w_q), width(self.forward, self.a_q),
                width(self.backward, self.g_q), 32)


BASELINES: dict[str, Baseline] = {
    "qat": Baseline("qat", "qat", "qat", "int", "fp32", True),
    "qat-fp16": Baseline("qat-fp16", "qat-fp16", "qat", "int", "fp16", True),
    "qat-bf16": Baseline("qat-bf16", "qat-bf16", "qat", "int", "bf16", True),
    "qat-int8g": Baseline("qat-int8g", "qat-int8g", "qat", "int", "int", True),
    "fp32": Baseline("fp32", "fp32", "fp32", "fp32", "fp32", False),
    "mixed-fp16": Baseline("mixed-fp16", "mixed-fp16", "fp32", "fp16", "fp16", True),
    "mixed-bf16": Baseline("mixed-bf16", "mixed-bf16", "fp32", "bf16", "bf16", True),
}
"""Every named baseline with its defaults (docs/policies.md, "Baselines")."""

_QAT_PARAMS = ("w_q", "a_q", "dgrad_weights")
PARAMS: dict[str, tuple[str, ...]] = {
    "qat": _QAT_PARAMS, "qat-fp16": _QAT_PARAMS, "qat-bf16": _QAT_PARAMS,
    "qat-int8g": ("w_q", "a_q", "g_q"),
    "fp32": (), "mixed-fp16": (), "mixed-bf16": (),
}
"""Parameters each baseline accepts."""

BIT_RANGE = (2, 16)
"""Allowed integer widths of `w_q`, `a_q`, `g_q` (as the trainer's `--policy qat`)."""


def is_baseline_name(text: str) -> bool:
    """Whether `text` names a baseline (with or without parameters) rather than a trace."""
    return text.split(":", 1)[0].strip() in BASELINES


def parse_baseline(text: str, source: str = "--baseline", *, file: str = "command line"
                   ) -> Baseline:
    """`name[:key=value,...]` -> Baseline; InputError (one line naming `file`, the field
    `source` and the names or parameters allowed) otherwise."""
    head, _, tail = text.strip().partition(":")
    head = head.strip()
    if head not in BASELINES:
        raise InputError(file, source, f"unknown baseline {head!r}",
                         ", ".join(BASELINES) + " (name:key=value for variants), none, or a trace")
    base = BASELINES[head]
    allowed = PARAMS[head]
    changes: dict[str, int | str] = {}
    for item in filter(None, (p.strip() for p in tail.split(","))):
        key, eq, value = (s.strip() for s in item.partition("="))
        if key not in allowed:
            raise InputError(file, source,
                             f"{key!r}: unknown parameter for baseline {head}",
                             ", ".join(allowed) if allowed else "none (it takes no parameters)")
        if not eq or not value:
            raise InputError(file, source, f"{head}: {key} has no value", "key=value")
        if key == "dgrad_weights":
            if value not in ("quantised", "master"):
                raise InputError(file, source, f"{head}: dgrad_weights={value}",
                                 "quantised, master")
            changes[key] = value
        else:
            low, high = BIT_RANGE
            if not value.isdigit() or not low <= int(value) <= high:
                raise InputError(file, source, f"{head}: {key}={value}",
                                 f"an integer {low}..{high}")
            changes[key] = int(value)
    label = head if not changes else head + ":" + ",".join(f"{k}={v}" for k, v in changes.items())
    return replace(base, label=label, **changes)


def split_baselines(text: str, source: str = "--baseline", *, file: str = "command line"
                    ) -> list[str]:
    """`qat,fp32,qat:w_q=4` -> ["qat", "fp32", "qat:w_q=4"]: a comma starts a new baseline unless
    the item after it is a `key=value` parameter of the one before. An empty name (`""`,
    `qat,,fp32`, a trailing comma) is an InputError naming `file` and the field `source`."""
    items: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise InputError(file, source, f"empty baseline name in {text!r}",
                             "comma-separated baselines: " + ", ".join(BASELINES)
                             + " (name:key=value for variants), none, or a trace")
        if items and "=" in part and ":" not in part and is_baseline_name(items[-1]) \
                and ":" in items[-1]:
            items[-1] += "," + part
        else:
            items.append(part)
    return items
