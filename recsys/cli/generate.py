"""``recsys-generate``: write a synthetic dataset (Hydra app over ``configs/generate.yaml``).

Examples: ``recsys-generate`` (``small``, the realistic world, seed 0, into
``data/synthetic/small-realistic-seed0``; ``data/world=easy`` or ``hard`` for the others),
``recsys-generate data=tiny seed=7 out_dir=/tmp/tiny``, ``recsys-generate data=small data.utility.latent=0
out_dir=data/synthetic/small-nolatent``. A directory holding a dataset of another seed or data config is
never replaced unless ``overwrite=true``; one holding this very dataset is left as it is.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

import recsys.paths
from recsys.cli.pipeline import ensure_data
from recsys.progress import progress_enabled


@hydra.main(version_base="1.3", config_path=str(recsys.paths.config_dir()), config_name="generate")
def main(cfg: DictConfig) -> None:
    """Generate ``cfg.data.preset`` into ``cfg.out_dir`` (unless it is there already); print the directory."""
    spec = OmegaConf.create({"data": cfg.data, "seed": cfg.seed, "data_dir": cfg.out_dir})
    out = ensure_data(spec, replace=cfg.overwrite, progress=progress_enabled(cfg.progress))
    print(out)


if __name__ == "__main__":
    main()
