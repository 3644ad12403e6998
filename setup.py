"""The optional compiled step engine (rctsim/_engine.c, loaded with ctypes by rctsim/engine_c.py).

Everything else about the package is in pyproject.toml. The extension is optional: where it does
not build (no C compiler) the install still succeeds and the replay uses the Python engine,
which gives the same results (docs/model.md §4).
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCE = "rctsim/_engine.c"
DIGEST = hashlib.sha256((Path(__file__).resolve().parent / SOURCE).read_bytes()).hexdigest()
"""sha256 of the C source, built into the library (`rct_engine_source`): rctsim/engine_c.py uses
a library only when it was built from the `_engine.c` beside it (an editable checkout updated
without a rebuild falls back to the Python engine, with a warning, instead of running old code)."""


class BuildExt(build_ext):
    """Build rctsim/_engine.c as a plain shared library (it uses no Python C API) with flags
    that keep its floating point bit-identical to Python's: no fused multiply-add
    (-ffp-contract=off; gcc contracts a*b+c by default on aarch64), no -ffast-math."""

    def build_extensions(self):
        if self.compiler.compiler_type == "unix":
            for ext in self.extensions:
                ext.extra_compile_args = ["-std=c99", "-O2", "-ffp-contract=off",
                                          "-fno-fast-math"]
        super().build_extensions()

    def get_export_symbols(self, ext):
        return ["rct_engine_step", "rct_engine_abi", "rct_engine_source"]


setup(ext_modules=[Extension("rctsim._engine", [SOURCE], optional=True,
                             define_macros=[("RCT_ENGINE_SOURCE", f'"{DIGEST}"')])],
      cmdclass={"build_ext": BuildExt})
