"""The offline data sets: shapes, determinism, and difficulty against independent baselines
(a least-squares linear classifier, as in the MNIST-1D paper's logistic-regression row)."""

from __future__ import annotations

import numpy as np
import pytest

from rctsim.errors import InputError
from rctsim.train.datasets import load_dataset
from rctsim.train.datasets.text import VOCAB, corpus, encode


def linear_accuracy(data, ridge: float) -> float:
    """Test accuracy of a ridge-regression one-hot linear classifier (independent baseline)."""
    x = data.x_train.reshape(len(data.x_train), -1).astype(np.float64)
    xt = data.x_test.reshape(len(data.x_test), -1).astype(np.float64)
    x1, xt1 = np.c_[x, np.ones(len(x))], np.c_[xt, np.ones(len(xt))]
    w = np.linalg.solve(x1.T @ x1 + ridge * np.eye(x1.shape[1]), x1.T @ np.eye(10)[data.y_train])
    return float(((xt1 @ w).argmax(1) == data.y_test).mean())


def test_mnist1d_shapes_and_determinism():
    """4000/1000 one-row, 40-sample signals over 10 roughly balanced classes; seeded."""
    data = load_dataset("mnist1d", {})
    assert data.x_train.shape == (4000, 1, 40, 1) and data.x_test.shape == (1000, 1, 40, 1)
    counts = np.bincount(data.y_train, minlength=10)
    assert counts.min() > 300 and counts.max() < 500
    again = load_dataset("mnist1d", {})
    np.testing.assert_array_equal(data.x_train, again.x_train)
    other = load_dataset("mnist1d", {"seed": 1})
    assert not np.array_equal(data.x_train, other.x_train)


def test_mnist1d_defeats_linear_models_like_the_paper():
    """Translation makes it hard for linear models (paper: logistic regression 32%, CNN 94%):
    well above chance, far below what the CNN reaches (test_train_accuracy.py)."""
    acc = linear_accuracy(load_dataset("mnist1d", {}), ridge=0.1)
    assert 0.13 < acc < 0.4


def test_strokes_images_are_learnable_digits():
    """16x16 stroke digits: ink in [0, 1] plus noise; a linear classifier does well but not
    perfectly, so the task has headroom for the ResNet."""
    data = load_dataset("strokes", {"n_train": 2000, "n_test": 500})
    assert data.x_train.shape == (2000, 16, 16, 1)
    assert set(np.unique(data.y_train)) == set(range(10))
    assert 0.4 < linear_accuracy(data, ridge=1.0) < 0.9


def test_text_corpus_is_real_and_windows_shift_by_one():
    """The Python reference topics corpus; y is x shifted by one character."""
    text = corpus()
    assert len(text) > 100_000 and "assert" in text
    data = load_dataset("text", {"seq_len": 16})
    np.testing.assert_array_equal(data.x_train[0, 1:], data.y_train[0, :-1])
    np.testing.assert_array_equal(data.x_train[1, 0], data.y_train[0, -1])
    assert data.n_classes == len(VOCAB) == 96
    sample = "The \u201cassert\u201d statement\n"
    assert "".join(VOCAB[i] for i in encode(sample)) == 'The "assert" statement\n'


def test_unknown_dataset_or_parameter_is_input_error():
    """Errors name the option and the allowed values."""
    with pytest.raises(InputError, match="mnist1d, strokes, text"):
        load_dataset("cifar", {})
    with pytest.raises(InputError, match="unknown parameter"):
        load_dataset("text", {"bogus": 1})
