"""Ranker artifact: a directory of arrays (``.npz``), tables (Parquet) and JSON; no pickle.

Layout::

    ranker.json          format version, reference time, catalogue version, sha256 of every other file
    catalogue.parquet    live jobs (catalogue columns), in catalogue order
    catalogue.npz        job embeddings, biases and weighted feature rows (CSR parts)
    seekers.parquet      known seekers (seekers schema)
    seekers.npz          their embeddings, biases and applied job ids (CSR-style offsets)
    model/               the fitted model (``Recommender.save``), for new profiles and postings

Loading checks the format version and every checksum before reading anything else, so a corrupted,
truncated or foreign artifact fails with :class:`~recsys.api.errors.ArtifactError`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.api.catalogue import Catalogue
from recsys.api.errors import ArtifactError
from recsys.api.profile import SeekerRequests
from recsys.io import atomic_dir, sha256_file, write_json
from recsys.models.base import Recommender

if TYPE_CHECKING:
    from recsys.api.ranker import Ranker

RANKER_FORMAT_VERSION = 1
MANIFEST = "ranker.json"


def save_ranker(ranker: Ranker, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``ranker`` (its current catalogue snapshot) to directory ``path``, atomically.

    A previous ranker at ``path`` is replaced; anything else there only with ``overwrite=True``
    (:class:`recsys.io.OutputExistsError` otherwise).
    """
    catalogue = ranker.catalogue
    known = ranker._known
    applied_ids = np.concatenate([np.asarray(a, dtype=object) for a in known.applied] or [np.empty(0, object)])
    applied_offsets = np.concatenate([[0], np.cumsum([len(a) for a in known.applied])]).astype(np.int64)
    with atomic_dir(path, kind="ranker", overwrite=overwrite) as tmp:
        ranker.model.save(tmp / "model")
        catalogue.table.to_parquet(tmp / "catalogue.parquet", index=False)
        np.savez(tmp / "catalogue.npz", embeddings=catalogue.embeddings, biases=catalogue.biases,
                 features_data=catalogue.features.data, features_indices=catalogue.features.indices,
                 features_indptr=catalogue.features.indptr,
                 features_shape=np.asarray(catalogue.features.shape, dtype=np.int64))
        ranker.seekers.to_parquet(tmp / "seekers.parquet", index=False)
        np.savez(tmp / "seekers.npz", embeddings=known.embeddings, biases=known.biases,
                 applied_ids=applied_ids.astype(str), applied_offsets=applied_offsets)
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        write_json(tmp / MANIFEST, {
            "format_version": RANKER_FORMAT_VERSION, "kind": "recsys.api.Ranker",
            "now": ranker.now.isoformat(), "catalogue_version": catalogue.version,
            "max_reasons": ranker.max_reasons, "n_jobs": len(catalogue), "n_seekers": len(ranker.seekers),
            "sha256": {name: sha256_file(tmp / name) for name in files},
        })
    return Path(path)


def load_ranker_dir(path: str | Path) -> Ranker:
    """Read a directory written by :func:`save_ranker`; raises :class:`ArtifactError` on any problem."""
    from recsys.api.ranker import Ranker

    path = Path(path)
    manifest = _read_manifest(path)
    for name, digest in manifest["sha256"].items():
        file = path / name
        if not file.is_file():
            raise ArtifactError(f"ranker artifact {str(path)!r} is incomplete: {name} is missing")
        if sha256_file(file) != digest:
            raise ArtifactError(f"ranker artifact file {str(file)!r} does not match its sha256 checksum "
                                f"(corrupted, truncated or edited)")
    try:
        model = Recommender.load(path / "model")
        with np.load(path / "catalogue.npz", allow_pickle=False) as data:
            features = sp.csr_matrix((data["features_data"], data["features_indices"], data["features_indptr"]),
                                     shape=tuple(data["features_shape"]))
            catalogue = Catalogue.build(pd.read_parquet(path / "catalogue.parquet"), data["embeddings"],
                                        data["biases"], features, version=int(manifest["catalogue_version"]))
        seekers = pd.read_parquet(path / "seekers.parquet")
        with np.load(path / "seekers.npz", allow_pickle=False) as data:
            offsets, ids = data["applied_offsets"], data["applied_ids"].astype(object)
            applied = [ids[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
            requests = SeekerRequests.from_table(seekers, data["embeddings"], data["biases"], applied)
        return Ranker(model, catalogue, seekers, requests, pd.Timestamp(manifest["now"]),
                      max_reasons=int(manifest["max_reasons"]))
    except ArtifactError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(f"cannot read ranker artifact {str(path)!r}: {exc}") from exc


def _read_manifest(path: Path) -> dict:
    file = path / MANIFEST
    if not file.is_file():
        raise ArtifactError(f"{str(path)!r} is not a ranker artifact (no {MANIFEST})")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{str(file)!r} is corrupt: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("kind") != "recsys.api.Ranker":
        raise ArtifactError(f"{str(file)!r} does not describe a recsys ranker")
    version = manifest.get("format_version")
    if version != RANKER_FORMAT_VERSION:
        raise ArtifactError(f"ranker artifact format version {version!r} is not supported "
                            f"(this recsys reads version {RANKER_FORMAT_VERSION})")
    if not isinstance(manifest.get("sha256"), dict) or not manifest["sha256"]:
        raise ArtifactError(f"{str(file)!r} has no checksums")
    return manifest
