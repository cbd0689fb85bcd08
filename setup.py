"""Build hook: ship the top-level ``configs/`` inside the package, as ``recsys/configs`` (metadata: pyproject.toml).

``configs/`` stays at the top of the repository (where users look for it); ``package_dir`` maps it into
the wheel, with every config group as a data-only subpackage, so ``recsys.paths.config_dir()`` finds it
in an installed package without a checkout.
"""

from pathlib import Path

from setuptools import find_packages, setup

CONFIG_GROUPS = sorted(".".join(p.relative_to("configs").parts) for p in Path("configs").rglob("*") if p.is_dir())

setup(
    packages=[*find_packages(include=["recsys", "recsys.*"]), "recsys.configs",
              *(f"recsys.configs.{group}" for group in CONFIG_GROUPS)],
    package_dir={"recsys.configs": "configs"},
    package_data={"recsys": ["py.typed"], "": ["*.yaml"]},
)
