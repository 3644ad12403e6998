"""Next-character prediction on a real English corpus that ships with Python itself.

The corpus is `pydoc_data.topics`: the Python Language Reference sections that `help()` shows
(~465k characters in CPython 3.11). Characters map onto a fixed 96-symbol vocabulary (printable
ASCII and newline; typographic quotes and dashes folded to ASCII, anything else to `?`). The first
90% of the text trains, the last 10% tests; both are cut into non-overlapping windows.
"""

from __future__ import annotations

import hashlib
import platform

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rctsim.train.datasets.base import Dataset

VOCAB = "\n" + "".join(chr(c) for c in range(32, 127))
"""The 96 symbols: newline and printable ASCII."""
_FOLD = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-",
         "\u2013": "-", "\u2026": "...", "\t": "    "}


class TextParams(BaseModel):
    """Corpus settings (`--dataset-param k=v`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    seq_len: int = Field(64, ge=2)
    """Characters per training window."""
    max_train_chars: int = Field(200_000, ge=100)
    """Characters of the training split used (from its start)."""
    max_test_chars: int = Field(20_000, ge=100)
    """Characters of the test split used (from its start)."""


def corpus() -> str:
    """The raw corpus: every `pydoc_data.topics` entry in key order."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def encode(text: str) -> np.ndarray:
    """Symbol indices into `VOCAB` (folding non-ASCII as documented)."""
    index = {ch: i for i, ch in enumerate(VOCAB)}
    folded = "".join(_FOLD.get(ch, ch) for ch in text)
    return np.array([index.get(ch, index["?"]) for ch in folded], dtype=np.int64)


def _windows(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    count = (len(ids) - 1) // seq_len
    x = ids[: count * seq_len].reshape(count, seq_len)
    y = ids[1: count * seq_len + 1].reshape(count, seq_len)
    return x, y


def load_text(params: TextParams) -> Dataset:
    """Train/test windows `x[N, T]` and next characters `y[N, T]`."""
    text = corpus()
    ids = encode(text)
    cut = int(0.9 * len(ids))
    x_train, y_train = _windows(ids[:cut][: params.max_train_chars + 1], params.seq_len)
    x_test, y_test = _windows(ids[cut:][: params.max_test_chars + 1], params.seq_len)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Dataset(name="text", kind="sequence", x_train=x_train, y_train=y_train,
                   x_test=x_test, y_test=y_test, n_classes=len(VOCAB),
                   notes={"dataset_params": params.model_dump_json(),
                          "corpus": f"pydoc_data.topics (Python {platform.python_version()}, "
                                    f"sha256 {digest}, {len(text)} chars)"})
