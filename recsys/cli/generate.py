"""``recsys-generate``: write a synthetic dataset (Hydra app over ``configs/generate.yaml``).

Examples: ``recsys-generate``, ``recsys-generate data=tiny seed=7 out_dir=/tmp/tiny``,
``recsys-generate data=small data.utility.latent=0``.
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

import recsys.paths
from recsys.data.synthetic import generate

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=str(recsys.paths.config_dir()), config_name="generate")
def main(cfg: DictConfig) -> None:
    """Generate ``cfg.data.preset`` into ``cfg.out_dir`` and log where it went."""
    out = generate(cfg)
    log.info("wrote %s (preset %s, seed %s)", out, cfg.data.preset, cfg.seed)
    print(out)


if __name__ == "__main__":
    main()
