"""Packaging glue that pyproject.toml cannot express.

The shipped artefacts live at the top level of the repository (``models/``, ``data/``) and
are mapped into the wheel as ``multiscale._shipped.models`` / ``multiscale._shipped.data``
so that :mod:`multiscale.resources` finds them from a checkout and from an installed wheel.
"""
from setuptools import find_packages, setup

SHIPPED = {
    "multiscale._shipped.models": "models",
    "multiscale._shipped.data": "data",
    "multiscale._shipped.benchmarks": "benchmarks",
}

setup(
    packages=find_packages(include=["multiscale", "multiscale.*"]) + list(SHIPPED),
    package_dir=SHIPPED,
    package_data={
        "multiscale": ["*.toml", "pipeline/*.toml"],
        **{name: ["**/*"] for name in SHIPPED},
    },
)
