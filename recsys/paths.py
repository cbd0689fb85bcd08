"""Where the project lives on disk, independent of the working directory.

Hydra >= 1.2 does not change directory, and users start commands from anywhere, so every default path
(data, MLflow store, reports) is computed from :func:`project_root`, never from the cwd.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

_MARKERS = ("pyproject.toml", "configs")


def project_root() -> Path:
    """The project checkout that holds ``configs/`` and ``pyproject.toml``.

    ``RECSYS_ROOT`` wins when set; otherwise the checkout this package was installed from (editable
    installs); otherwise the current directory.
    """
    env = os.environ.get("RECSYS_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parent.parent
    if all((here / marker).exists() for marker in _MARKERS):
        return here
    return Path.cwd().resolve()


def config_dir() -> Path:
    """Absolute path of the Hydra ``configs/`` directory."""
    return project_root() / "configs"


def register_resolvers() -> None:
    """Register ``${project_root:}`` for Hydra configs (idempotent)."""
    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(project_root()))


register_resolvers()
