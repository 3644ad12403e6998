"""Stroke digits: a procedural 16x16 handwritten-digit image set.

Each digit 0-9 is a few polylines on the unit square (our own glyph design). A sample jitters the
control points, applies a random rotation, scale, shear and translation, draws the strokes with a
random pen width (anti-aliased distance to the nearest segment) and adds pixel noise. Nothing is
downloaded; the same seed gives the same images.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rctsim.train.datasets.base import Dataset

_ARC_TOP = [(0.25, 0.3), (0.35, 0.15), (0.5, 0.1), (0.65, 0.15), (0.75, 0.3)]
GLYPHS: tuple[tuple[tuple[tuple[float, float], ...], ...], ...] = (
    (((0.5, 0.1), (0.72, 0.2), (0.78, 0.5), (0.72, 0.8), (0.5, 0.9), (0.28, 0.8), (0.22, 0.5),
      (0.28, 0.2), (0.5, 0.1)),),                                                   # 0
    (((0.35, 0.25), (0.55, 0.1), (0.55, 0.9)), ((0.38, 0.9), (0.72, 0.9))),           # 1
    ((*_ARC_TOP, (0.7, 0.48), (0.25, 0.9), (0.78, 0.9)),),                           # 2
    (((0.25, 0.15), (0.6, 0.1), (0.72, 0.3), (0.45, 0.48), (0.75, 0.65), (0.65, 0.88),
      (0.25, 0.88)),),                                                               # 3
    (((0.62, 0.9), (0.62, 0.1), (0.22, 0.62), (0.8, 0.62)),),                         # 4
    (((0.75, 0.1), (0.3, 0.1), (0.27, 0.45), (0.6, 0.42), (0.75, 0.62), (0.65, 0.85),
      (0.25, 0.88)),),                                                               # 5
    (((0.7, 0.12), (0.4, 0.25), (0.25, 0.6), (0.35, 0.88), (0.65, 0.85), (0.72, 0.65),
      (0.5, 0.5), (0.28, 0.62)),),                                                   # 6
    (((0.22, 0.12), (0.78, 0.12), (0.42, 0.9)), ((0.38, 0.5), (0.7, 0.5))),           # 7
    (((0.5, 0.5), (0.3, 0.32), (0.5, 0.1), (0.7, 0.32), (0.5, 0.5), (0.25, 0.7), (0.5, 0.9),
      (0.75, 0.7), (0.5, 0.5)),),                                                    # 8
    (((0.72, 0.38), (0.5, 0.5), (0.28, 0.35), (0.5, 0.1), (0.72, 0.3), (0.72, 0.38),
      (0.62, 0.9)),),                                                                # 9
)
"""Polylines of each digit on the unit square (x right, y down)."""


class StrokesParams(BaseModel):
    """Generator settings (`--dataset-param k=v`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    n_train: int = Field(5000, ge=10)
    """Training images."""
    n_test: int = Field(1000, ge=10)
    """Test images."""
    size: int = Field(16, ge=8, le=64)
    """Image side in pixels."""
    jitter: float = Field(0.07, ge=0)
    """Standard deviation of the control-point jitter (unit square)."""
    rotation_deg: float = Field(25.0, ge=0)
    """Largest rotation, degrees."""
    shear: float = Field(0.25, ge=0)
    """Largest horizontal shear."""
    noise: float = Field(0.35, ge=0)
    """Standard deviation of the additive pixel noise."""
    seed: int = 0
    """Generator seed (independent of the training seed)."""


def _segment_distance(pixels: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each pixel `[P, 2]` to each segment `a[S, 2] -> b[S, 2]`, as `[P, S]`."""
    ab = b - a
    t = ((pixels[:, None, :] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12)
    nearest = a + np.clip(t, 0, 1)[..., None] * ab
    return np.sqrt(((pixels[:, None, :] - nearest) ** 2).sum(-1))


def render(label: int, p: StrokesParams, rng: np.random.Generator) -> np.ndarray:
    """One `size x size` image of digit `label` in [0, 1] plus noise."""
    angle = np.deg2rad(rng.uniform(-p.rotation_deg, p.rotation_deg))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    affine = rot @ np.array([[1.0, rng.uniform(-p.shear, p.shear)], [0.0, 1.0]])
    affine *= rng.uniform(0.75, 1.05)
    shift = rng.uniform(-0.08, 0.08, 2)
    starts, ends = [], []
    for line in GLYPHS[label]:
        pts = np.array(line) + rng.normal(0, p.jitter, (len(line), 2)) - 0.5
        pts = pts @ affine.T + 0.5 + shift
        starts.append(pts[:-1])
        ends.append(pts[1:])
    centres = (np.arange(p.size) + 0.5) / p.size
    pixels = np.stack(np.meshgrid(centres, centres, indexing="xy"), -1).reshape(-1, 2)
    dist = _segment_distance(pixels, np.concatenate(starts), np.concatenate(ends)).min(axis=1)
    pen = rng.uniform(0.6, 1.3) / p.size
    ink = np.clip((pen - dist) * p.size + 0.5, 0.0, 1.0)
    return ink.reshape(p.size, p.size) + p.noise * rng.standard_normal((p.size, p.size))


def load_strokes(params: StrokesParams) -> Dataset:
    """Train/test split as images `[N, size, size, 1]`."""
    rng = np.random.default_rng(params.seed)
    count = params.n_train + params.n_test
    labels = rng.integers(0, 10, count)
    x = np.stack([render(int(c), params, rng) for c in labels]).astype(np.float32)[..., None]
    n = params.n_train
    return Dataset(name="strokes", kind="image", x_train=x[:n], y_train=labels[:n],
                   x_test=x[n:], y_test=labels[n:], n_classes=10,
                   notes={"dataset_params": params.model_dump_json()})
