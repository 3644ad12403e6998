"""Data sets that exist offline: MNIST-1D, stroke digits, and a real text corpus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from rctsim.errors import InputError
from rctsim.train.datasets.base import Dataset
from rctsim.train.datasets.mnist1d import Mnist1dParams, load_mnist1d
from rctsim.train.datasets.strokes import StrokesParams, load_strokes
from rctsim.train.datasets.text import TextParams, load_text
from rctsim.train.params import parse_params


@dataclass(frozen=True)
class DatasetEntry:
    """A registered data set."""

    params: type[BaseModel]
    """Its parameter model (`--dataset-param k=v`)."""
    loader: Callable[[Any], Dataset]
    """Builds the data set from validated parameters."""
    kind: str
    """`image` or `sequence`."""


DATASETS: dict[str, DatasetEntry] = {
    "mnist1d": DatasetEntry(Mnist1dParams, load_mnist1d, "image"),
    "strokes": DatasetEntry(StrokesParams, load_strokes, "image"),
    "text": DatasetEntry(TextParams, load_text, "sequence"),
}
"""Data set name -> entry."""


def load_dataset(name: str, raw_params: dict[str, object], source: str = "--dataset") -> Dataset:
    """Validate `raw_params` for data set `name` and build it; InputError when either is bad."""
    if name not in DATASETS:
        raise InputError(source, "dataset", f"unknown data set {name!r}", ", ".join(DATASETS))
    entry = DATASETS[name]
    return entry.loader(parse_params(entry.params, raw_params, "--dataset-param", name))


__all__ = ["DATASETS", "Dataset", "DatasetEntry", "load_dataset"]
