"""The package layout pyproject.toml cannot say: the packages found under archspec/, plus ``archspec.zoo``,
which is the checkout's ``specs/`` folder mapped in place (``package_dir``).

``specs/`` stays the one source of the zoo: nothing is copied in the tree, and the wheel (and sdist)
carry its files as ``archspec/zoo/*.yaml``. Everything else about the project is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["archspec*"]), "archspec.zoo"],
    package_dir={"archspec.zoo": "specs"},
    package_data={
        "archspec": ["spec/*.yaml", "tools/draw/assets/*", "tools/serve/assets/*"],
        "archspec.zoo": ["*.yaml"],
    },
)
