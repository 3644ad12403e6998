"""MNIST-1D, generated procedurally after Greydanus, "Scaling down deep learning" (2020).

Each sample is one of ten 1-D digit templates (12 points), placed on a zero-padded line, stretched,
circularly translated, amplitude-scaled and sheared, with correlated (smoothed) noise filling the
padding and white noise everywhere, sampled at 40 points. The ten templates and the constants are
ours, chosen after the paper's description (4000 train / 1000 test, 40-sample outputs);
docs/trainer.md compares the accuracies we reach with the paper's published ones.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rctsim.train.datasets.base import Dataset

TEMPLATES = np.array([
    [0.0, 0.5, 0.9, 1.0, 0.9, 0.5, 0.0, -0.5, -0.9, -1.0, -0.9, -0.5],   # 0: one full wave
    [0.0, 0.0, 0.0, 0.2, 1.0, 1.0, 1.0, 1.0, 0.2, 0.0, 0.0, 0.0],       # 1: narrow plateau
    [-1.0, -0.8, -0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.0],  # 2: rising ramp, drop
    [0.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0, -0.2, -0.4, -0.6, -0.8, -1.0],  # 3: jump, falling ramp
    [0.0, 1.0, 0.2, -0.4, 0.2, 1.0, 0.2, -0.4, 0.2, 1.0, 0.0, 0.0],     # 4: three peaks
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, -1.0, -1.0, -1.0, -1.0, -1.0, 0.0],  # 5: step down
    [0.0, 0.0, -0.3, -1.0, -1.0, -1.0, -1.0, -1.0, -0.3, 0.0, 0.5, 1.0],  # 6: valley, rise
    [0.0, 0.6, 1.0, 0.6, 0.0, -0.6, -1.0, -0.6, 0.0, 0.6, 1.0, 0.6],    # 7: one and a half waves
    [0.0, 0.5, 1.0, 0.5, 0.0, -1.0, 0.0, 0.5, 1.0, 0.5, 0.0, -1.0],     # 8: two tents, two dips
    [0.0, -1.0, -1.0, 0.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0, 0.0],     # 9: dip, peak, decay
], dtype=np.float64)
"""The ten digit templates (ours), 12 points each."""


class Mnist1dParams(BaseModel):
    """Generator settings (`--dataset-param k=v`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    n_train: int = Field(4000, ge=10)
    """Training samples."""
    n_test: int = Field(1000, ge=10)
    """Test samples."""
    length: int = Field(40, ge=8)
    """Output samples per sequence."""
    padding_min: int = Field(36, ge=0)
    """Fewest zero points added around the 12-point template."""
    padding_max: int = Field(60, ge=0)
    """Most zero points added around the template."""
    stretch: float = Field(0.3, ge=0, lt=1)
    """Time stretch factor drawn from 1 +- stretch."""
    translation: float = Field(2 / 3, gt=0, le=1)
    """The template starts uniformly within this leading fraction of the (circular) signal."""
    shear: float = Field(0.75, ge=0)
    """Slope of the added linear trend drawn from +- shear/2 per unit length."""
    amplitude: float = Field(0.25, ge=0, lt=1)
    """Amplitude factor drawn from 1 +- amplitude."""
    corr_noise: float = Field(0.25, ge=0)
    """Standard deviation of the smoothed (correlated) noise filling the padding."""
    corr_width: float = Field(2.0, gt=0)
    """Smoothing kernel width (output samples) of the correlated noise."""
    white_noise: float = Field(0.02, ge=0)
    """Standard deviation of the white noise."""
    seed: int = 0
    """Generator seed (independent of the training seed)."""


def _smooth(noise: np.ndarray, width: float) -> np.ndarray:
    """Circular Gaussian smoothing of each row, rescaled back to unit variance."""
    n = noise.shape[1]
    lag = np.minimum(np.arange(n), n - np.arange(n))
    kernel = np.exp(-0.5 * (lag / width) ** 2)
    out = np.real(np.fft.ifft(np.fft.fft(noise, axis=1) * np.fft.fft(kernel), axis=1))
    return out / np.sqrt((kernel**2).sum())


def generate(count: int, p: Mnist1dParams, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """`count` samples `x[count, length]` with labels `y[count]`."""
    labels = rng.integers(0, 10, count)
    grid = np.arange(p.length) / p.length                  # output positions on a unit circle
    x = np.zeros((count, p.length))
    padding = np.ones((count, p.length), dtype=bool)
    for i, label in enumerate(labels):
        total = 12 + rng.integers(p.padding_min, p.padding_max + 1)
        width = 12 / total * (1 + p.stretch * rng.uniform(-1, 1))  # template span on the circle
        start = rng.uniform(0, p.translation)
        pos = ((grid - start) % 1.0) / width * 11             # template coordinate, 0..11 inside
        inside = pos <= 11
        x[i, inside] = np.interp(pos[inside], np.arange(12), TEMPLATES[label])
        padding[i] = ~inside
    x *= 1 + p.amplitude * rng.uniform(-1, 1, (count, 1))
    x += p.shear * rng.uniform(-0.5, 0.5, (count, 1)) * (grid - 0.5)
    x += p.corr_noise * _smooth(rng.standard_normal((count, p.length)), p.corr_width) * padding
    x += p.white_noise * rng.standard_normal((count, p.length))
    return x, labels


def load_mnist1d(params: Mnist1dParams) -> Dataset:
    """Train/test split as images `[N, 1, length, 1]` (one row, one channel)."""
    rng = np.random.default_rng(params.seed)
    x, y = generate(params.n_train + params.n_test, params, rng)
    x = x.astype(np.float32)[:, None, :, None]
    n = params.n_train
    return Dataset(name="mnist1d", kind="image", x_train=x[:n], y_train=y[:n], x_test=x[n:],
                   y_test=y[n:], n_classes=10,
                   notes={"dataset_params": params.model_dump_json()})
