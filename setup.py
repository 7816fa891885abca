"""The one C module (brook/records/_fastscan.c, the record scan's hot path); everything else is in
pyproject.toml. optional: where it cannot be built, brook runs its Python scan alone."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "brook.records._fastscan",
            ["src/brook/records/_fastscan.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
