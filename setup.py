"""The optional compiled step engine (rctsim/_engine.c, loaded with ctypes by rctsim/engine_c.py).

Everything else about the package is in pyproject.toml. The extension is optional: where it does
not build (no C compiler) the install still succeeds and the replay uses the Python engine,
which gives the same results (docs/model.md §4).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


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
        return ["rct_engine_run", "rct_engine_abi"]


setup(ext_modules=[Extension("rctsim._engine", ["rctsim/_engine.c"], optional=True)],
      cmdclass={"build_ext": BuildExt})
