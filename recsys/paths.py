"""Where recsys reads its configs and where commands write, independent of the working directory.

Two places matter:

* **Configs** (:func:`config_dir`): the checkout's top-level ``configs/`` when recsys runs from a source
  checkout (an editable install), else the copy installed with the package (``recsys/configs`` inside
  the wheel, built from the same ``configs/`` by ``setup.py``).
* **Home** (:func:`recsys_home`), where commands write by default: generated data
  (``<home>/data/synthetic/<preset>-<world>-seed<seed>``), ``outputs/``, ``multirun/`` and the MLflow store
  (``<home>/mlflow.db``, ``<home>/mlartifacts``). It is ``RECSYS_HOME`` when set, else the checkout,
  else the current directory.

Hydra >= 1.2 does not change directory, so the configs name these places through the resolver
``${recsys_home:}``, never through relative paths.
"""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

HOME_ENV = "RECSYS_HOME"
"""Environment variable naming the directory commands write to (data, outputs, MLflow store)."""

_MARKERS = ("pyproject.toml", "configs")
_PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The source checkout this package is imported from (``configs/`` and ``pyproject.toml`` beside
    the ``recsys/`` directory), or ``None`` for an installed wheel."""
    root = _PACKAGE_DIR.parent
    return root if all((root / marker).exists() for marker in _MARKERS) else None


def recsys_home() -> Path:
    """Where commands write by default: ``RECSYS_HOME``, else the checkout, else the current directory."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return checkout_root() or Path.cwd().resolve()


def project_root() -> Path:
    """Deprecated name of :func:`recsys_home` (kept for scripts and logged configs that use it)."""
    return recsys_home()


def config_dir() -> Path:
    """Absolute path of the Hydra configs: the checkout's ``configs/``, else the packaged copy.

    Raises ``FileNotFoundError`` when neither exists (a wheel built without its configs).
    """
    root = checkout_root()
    if root is not None:
        return root / "configs"
    packaged = _PACKAGE_DIR / "configs"
    if not (packaged / "train.yaml").is_file():
        raise FileNotFoundError(f"recsys configs not found: no checkout around {_PACKAGE_DIR} and no packaged "
                                f"copy in {packaged} (reinstall the package: pip install recsys)")
    return packaged


def _tracking_uri() -> str:
    from recsys.tracking.store import default_uri

    return default_uri()


def _artifact_location() -> str | None:
    from recsys.tracking.store import default_artifact_location

    return default_artifact_location()


def register_resolvers() -> None:
    """Register the resolvers of the configs (idempotent): ``${recsys_home:}`` (old name
    ``${project_root:}``), and ``${recsys_tracking_uri:}`` / ``${recsys_artifact_location:}``, the MLflow
    store of :mod:`recsys.tracking.store`'s rule."""
    resolvers = {"recsys_home": lambda: str(recsys_home()), "project_root": lambda: str(recsys_home()),
                 "recsys_tracking_uri": _tracking_uri, "recsys_artifact_location": _artifact_location}
    for name, resolver in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


register_resolvers()
