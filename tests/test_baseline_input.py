"""Baseline names as typed: an empty one is a one-line error (exit 2), never a silent run
without a baseline."""

from __future__ import annotations

import pytest

from rctsim.baselines import split_baselines
from rctsim.errors import InputError
from tests.helpers import run_main

_run = run_main


@pytest.mark.parametrize("text", ["", " ", "qat,,fp32", "qat,", ",qat"])
def test_split_refuses_an_empty_name(text):
    with pytest.raises(InputError, match="empty baseline name"):
        split_baselines(text)


@pytest.mark.parametrize("text", ["", "qat,,fp32"])
def test_run_refuses_an_empty_baseline(tmp_path, capsys, text):
    out = tmp_path / "r.json"
    code, captured = _run(["run", "--trace", "charlm", "--baseline", text, "--json", str(out)],
                          capsys)
    assert code == 2 and not out.exists()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "--baseline: empty baseline name" in err[0], err
