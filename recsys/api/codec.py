"""Ranker persistence: :class:`RankerParts` to a directory of arrays, tables and JSON, and back; no pickle.

Layout::

    ranker.json          manifest: format version, clock, timezone, sizes, and every other file with its
                         byte size and sha256
    catalogue.parquet    live jobs (catalogue columns), in catalogue order
    catalogue.npz        job embeddings, biases, weighted feature rows (CSR parts) and live application counts
    seekers.parquet      known seekers
    seekers.npz          their embeddings, biases and applied job ids (CSR-style offsets)
    model/model.json     the fitted model (:meth:`recsys.models.base.Recommender.save`)
    model/arrays.npz
    hiring/hiring.json   the hiring-probability model (:class:`recsys.models.hiring.HiringModel`), only when
    hiring/arrays.npz    the ranker serves the placement objectives (manifest field ``placement`` not null:
                         the apply calibration's ``slope`` and ``intercept``)

Format versions: 3 added the application counts, the ``vacancies`` column and the optional hiring model;
a version-2 artifact is refused with a message saying to rebuild it.

An artifact is data, never instructions. :func:`read_ranker` checks, before using anything: the manifest's
fields and types; that every listed name is a relative path inside the artifact (no absolute paths,
no ``..``, no symlink on the way); that the listed files are exactly the layout above and that the
directory holds nothing else (an unlisted file is an error, so nothing unverified is ever read); sizes
and checksums; the model through the class registry (:meth:`Recommender.load`); then the shapes and
dtypes of every array against each other and against the manifest. Any problem raises
:class:`~recsys.api.errors.ArtifactError` naming the file and the field.

This module depends on the catalogue, the request arrays and the model; the ranker depends on it
(:meth:`recsys.api.ranker.Ranker.save` / :meth:`~recsys.api.ranker.Ranker.load`), never the reverse.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.api.catalogue import Catalogue
from recsys.api.errors import ArtifactError
from recsys.api.objectives import ApplyCalibration
from recsys.api.profile import SeekerRequests
from recsys.io import atomic_dir, sha256_file, write_json
from recsys.models.base import ModelFormatError, Recommender
from recsys.models.hiring import HiringModel, HiringModelError
from recsys.models.protocols import FactorModel, UnservableModelError, check_factor_model, check_factor_shapes

RANKER_FORMAT_VERSION = 3
MANIFEST = "ranker.json"
KIND = "recsys.api.Ranker"
ARTIFACT_FILES = ("catalogue.npz", "catalogue.parquet", "model/arrays.npz", "model/model.json", "seekers.npz",
                  "seekers.parquet")
"""Every file of a ranker artifact besides the manifest (sorted)."""
HIRING_FILES = ("hiring/arrays.npz", "hiring/hiring.json")
"""Files added when the ranker carries a hiring model (manifest field ``placement`` not null)."""
MANIFEST_FIELDS: dict[str, Any] = {"format_version": int, "kind": str, "now": str, "timezone": str, "catalogue_version": int,
                   "max_reasons": int, "n_jobs": int, "n_seekers": int, "dim": int, "files": dict, "placement": (dict, type(None))}
"""Fields of ``ranker.json`` and their JSON types (exactly these)."""


@dataclass(frozen=True)
class RankerParts:
    """Everything a ranker is made of: what is saved and what :func:`read_ranker` returns."""

    model: FactorModel
    catalogue: Catalogue
    seekers: pd.DataFrame
    requests: SeekerRequests
    now: pd.Timestamp
    max_reasons: int
    timezone: str
    hiring: HiringModel | None = None
    apply_calibration: ApplyCalibration | None = None


def write_ranker(parts: RankerParts, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``parts`` to directory ``path`` atomically (:func:`recsys.io.atomic_dir`, kind ``ranker``):
    a previous ranker there is replaced, anything else only with ``overwrite=True``."""
    catalogue, known = parts.catalogue, parts.requests
    model: Recommender = parts.model  # type: ignore[assignment]
    applied_ids = np.concatenate([np.asarray(a, dtype=object) for a in known.applied] or [np.empty(0, object)])
    applied_offsets = np.concatenate([[0], np.cumsum([len(a) for a in known.applied])]).astype(np.int64)
    features = catalogue.features
    with atomic_dir(path, kind="ranker", overwrite=overwrite) as tmp:
        model.save(tmp / "model")
        catalogue.table.to_parquet(tmp / "catalogue.parquet", index=False)
        np.savez(tmp / "catalogue.npz", embeddings=np.asarray(catalogue.embeddings, dtype=np.float32),
                 biases=np.asarray(catalogue.biases, dtype=np.float32),
                 features_data=features.data.astype(np.float32), features_indices=features.indices.astype(np.int64),
                 features_indptr=features.indptr.astype(np.int64),
                 features_shape=np.asarray(features.shape, dtype=np.int64),
                 applications=np.asarray(catalogue.applications, dtype=np.float32))
        files: tuple[str, ...] = ARTIFACT_FILES
        placement = None
        if parts.hiring is not None and parts.apply_calibration is not None:
            parts.hiring.save(tmp / "hiring")
            files = tuple(sorted(ARTIFACT_FILES + HIRING_FILES))
            placement = {"slope": parts.apply_calibration.slope, "intercept": parts.apply_calibration.intercept}
        parts.seekers.to_parquet(tmp / "seekers.parquet", index=False)
        np.savez(tmp / "seekers.npz", embeddings=np.asarray(known.embeddings, dtype=np.float32),
                 biases=np.asarray(known.biases, dtype=np.float32), applied_ids=applied_ids.astype(str),
                 applied_offsets=applied_offsets)
        write_json(tmp / MANIFEST, {
            "format_version": RANKER_FORMAT_VERSION, "kind": KIND, "now": parts.now.isoformat(),
            "timezone": parts.timezone, "catalogue_version": int(catalogue.version),
            "max_reasons": int(parts.max_reasons), "n_jobs": len(catalogue), "n_seekers": len(parts.seekers),
            "dim": int(catalogue.embeddings.shape[1]), "placement": placement,
            "files": {name: {"bytes": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)}
                      for name in files},
        })
    return Path(path)


def read_ranker(path: str | Path) -> RankerParts:
    """Read and verify a directory written by :func:`write_ranker` (see the module docstring)."""
    root = Path(path)
    manifest = read_manifest(root)
    verify_files(root, manifest["files"], placement=manifest["placement"] is not None)
    model = _read_model(root)
    n_jobs, n_seekers, dim = manifest["n_jobs"], manifest["n_seekers"], manifest["dim"]
    try:
        n_features, model_dim = check_factor_shapes(model)
    except ValueError as exc:
        raise ArtifactError(f"{_where(root, 'model/arrays.npz')}: {exc}") from exc
    if model_dim != dim:
        raise ArtifactError(f"{_where(root, 'model/arrays.npz')}: embedding dimension {model_dim} disagrees with "
                            f"field 'dim' = {dim} of {MANIFEST}")
    try:
        catalogue_arrays = _read_npz(root, "catalogue.npz", {
            "embeddings": ("f", (n_jobs, dim)), "biases": ("f", (n_jobs,)), "features_data": ("f", None),
            "features_indices": ("iu", None), "features_indptr": ("iu", (n_jobs + 1,)),
            "features_shape": ("iu", (2,)), "applications": ("f", (n_jobs,))})
        features = _csr(root, catalogue_arrays, n_jobs, n_features)
        table = _read_table(root, "catalogue.parquet", "job_id", n_jobs)
        version = manifest["catalogue_version"]
        try:
            catalogue = Catalogue.build(table, catalogue_arrays["embeddings"].astype(np.float32),
                                        catalogue_arrays["biases"].astype(np.float32), features, version=version)
            applications = catalogue_arrays["applications"].astype(np.float32)
            if not (np.isfinite(applications).all() and (applications >= 0).all()):
                raise ArtifactError(f"{_where(root, 'catalogue.npz')}: array 'applications' must hold counts >= 0")
            order = catalogue.positions.get_indexer(pd.Index(table["job_id"].astype(object)))
            catalogue = catalogue.with_applications(order, applications, add=False, version=version)
        except (ValueError, TypeError, KeyError) as exc:
            raise ArtifactError(f"{_where(root, 'catalogue.parquet')}: a column has values a catalogue cannot "
                                f"hold ({type(exc).__name__}: {exc})") from exc
        seekers = _read_table(root, "seekers.parquet", "seeker_id", n_seekers)
        seeker_arrays = _read_npz(root, "seekers.npz", {
            "embeddings": ("f", (n_seekers, dim)), "biases": ("f", (n_seekers,)), "applied_ids": ("U", None),
            "applied_offsets": ("iu", (n_seekers + 1,))})
        offsets, ids = seeker_arrays["applied_offsets"], seeker_arrays["applied_ids"].astype(object)
        if len(offsets) and (offsets[0] != 0 or offsets[-1] != len(ids) or (np.diff(offsets) < 0).any()):
            raise ArtifactError(f"{_where(root, 'seekers.npz')}: array 'applied_offsets' does not index "
                                f"'applied_ids' ({len(ids)} ids)")
        applied = [ids[offsets[i]:offsets[i + 1]] for i in range(n_seekers)]
        try:
            requests = SeekerRequests.from_table(seekers, seeker_arrays["embeddings"].astype(np.float32),
                                                 seeker_arrays["biases"].astype(np.float32), applied)
        except (ValueError, TypeError, KeyError) as exc:
            raise ArtifactError(f"{_where(root, 'seekers.parquet')}: a column has values a seeker cannot hold "
                                f"({type(exc).__name__}: {exc})") from exc
    except ArtifactError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:  # pyarrow errors are OSError/ValueError kinds
        raise ArtifactError(f"cannot read ranker artifact {str(root)!r}: {type(exc).__name__}: {exc}") from exc
    hiring, calibration = None, None
    if manifest["placement"] is not None:
        placement = manifest["placement"]
        if set(placement) != {"slope", "intercept"} or not all(
                isinstance(placement[f], (int, float)) and not isinstance(placement[f], bool)
                and np.isfinite(placement[f]) for f in placement):
            raise ArtifactError(f"{_where(root, MANIFEST)}: field 'placement' must be {{'slope': number, "
                                f"'intercept': number}}, got {placement!r}")
        calibration = ApplyCalibration(float(placement["slope"]), float(placement["intercept"]))
        try:
            hiring = HiringModel.load(root / "hiring")
        except HiringModelError as exc:
            raise ArtifactError(f"{_where(root, 'hiring')}: {exc}") from exc
    return RankerParts(model=model, catalogue=catalogue, seekers=seekers, requests=requests, now=manifest["now"],
                       max_reasons=manifest["max_reasons"], timezone=manifest["timezone"], hiring=hiring,
                       apply_calibration=calibration)


# ---------------------------------------------------------------------- manifest and files
def read_manifest(root: Path) -> dict[str, Any]:
    """The checked manifest of the artifact at ``root`` (``now`` as a naive Timestamp)."""
    file = root / MANIFEST
    if not root.is_dir():
        raise ArtifactError(f"{str(root)!r} is not a ranker artifact (not a directory)")
    if file.is_symlink() or not file.is_file():
        raise ArtifactError(f"{str(root)!r} is not a ranker artifact (no regular file {MANIFEST})")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{str(file)!r} is corrupt: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise ArtifactError(f"{str(file)!r}: field 'kind' does not describe a recsys ranker")
    version = manifest.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version < RANKER_FORMAT_VERSION:
        raise ArtifactError(f"{str(file)!r}: field 'format_version' = {version} is an older ranker format (this "
                            f"recsys reads version {RANKER_FORMAT_VERSION}, which adds live application counts and "
                            f"the hiring model); rebuild the ranker from its model and dataset "
                            f"(Ranker.from_model(...).save(path))")
    if version != RANKER_FORMAT_VERSION:
        raise ArtifactError(f"{str(file)!r}: field 'format_version' = {version!r} is not supported "
                            f"(this recsys reads version {RANKER_FORMAT_VERSION})")
    if set(manifest) != set(MANIFEST_FIELDS):
        extra, missing = sorted(set(manifest) - set(MANIFEST_FIELDS)), sorted(set(MANIFEST_FIELDS) - set(manifest))
        raise ArtifactError(f"{str(file)!r}: unexpected field(s) {extra}, missing field(s) {missing}")
    for name, kind in MANIFEST_FIELDS.items():
        value = manifest[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            expected = " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
            raise ArtifactError(f"{str(file)!r}: field {name!r} must be {expected}, got {value!r}")
    for name, low, high in (("n_jobs", 0, 10**8), ("n_seekers", 0, 10**9), ("dim", 1, 4096),
                            ("catalogue_version", 0, 2**62), ("max_reasons", 1, 8)):
        if not low <= manifest[name] <= high:
            raise ArtifactError(f"{str(file)!r}: field {name!r} = {manifest[name]} is out of range [{low}, {high}]")
    try:
        now = pd.Timestamp(manifest["now"])
        pd.Timestamp.now(tz=manifest["timezone"])
    except (ValueError, TypeError, KeyError) as exc:
        raise ArtifactError(f"{str(file)!r}: field 'now' or 'timezone' is not a time / timezone: {exc}") from exc
    if pd.isna(now) or now.tzinfo is not None:
        raise ArtifactError(f"{str(file)!r}: field 'now' must be a naive ISO time, got {manifest['now']!r}")
    return {**manifest, "now": now}


def verify_files(root: Path, files: Any, *, placement: bool = False) -> None:
    """Check the manifest's ``files``: safe relative names, exactly :data:`ARTIFACT_FILES`, no unlisted or
    symlinked entry in the directory, sizes and sha256 as listed."""
    where = f"{str(root / MANIFEST)!r}: field 'files'"
    if not isinstance(files, dict):
        raise ArtifactError(f"{where} must be an object")
    real_root = root.resolve()
    for name, entry in files.items():
        _check_name(root, name, where)
        if not isinstance(entry, dict) or set(entry) != {"bytes", "sha256"} or not isinstance(entry["sha256"], str) \
                or not isinstance(entry["bytes"], int) or isinstance(entry["bytes"], bool):
            raise ArtifactError(f"{where}[{name!r}] must be {{'bytes': int, 'sha256': str}}")
        file = root / name
        for parent in [file, *file.parents]:
            if parent == root:
                break
            if parent.is_symlink():
                raise ArtifactError(f"{where}[{name!r}]: {str(parent)!r} is a symlink; an artifact holds regular "
                                    f"files only")
        if not file.resolve().is_relative_to(real_root):
            raise ArtifactError(f"{where}[{name!r}] resolves outside the artifact")
    listed = sorted(files)
    expected = sorted(ARTIFACT_FILES + HIRING_FILES) if placement else sorted(ARTIFACT_FILES)
    if listed != expected:
        raise ArtifactError(f"{where} lists {listed}; a ranker artifact {'with' if placement else 'without'} "
                            f"field 'placement' has exactly {expected}")
    present = _directory_entries(root)
    unlisted = sorted(set(present) - set(files) - {MANIFEST})
    if unlisted:
        raise ArtifactError(f"ranker artifact {str(root)!r} holds unlisted file(s) {unlisted}; refusing to load "
                            f"content that the manifest does not verify")
    for name in listed:
        file, entry = root / name, files[name]
        if name not in present or not file.is_file():
            raise ArtifactError(f"ranker artifact {str(root)!r} is incomplete: {name} is missing")
        size = file.stat().st_size
        if size != entry["bytes"]:
            raise ArtifactError(f"{_where(root, name)} has {size} bytes, field 'files[{name!r}].bytes' says "
                                f"{entry['bytes']} (truncated or edited)")
        if sha256_file(file) != entry["sha256"]:
            raise ArtifactError(f"{_where(root, name)} does not match field 'files[{name!r}].sha256' "
                                f"(corrupted, truncated or edited)")


def _check_name(root: Path, name: Any, where: str) -> None:
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise ArtifactError(f"{where}: {name!r} is not a relative POSIX path")
    pure = PurePosixPath(name)
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":") or any(p in ("..", ".", "") for p in name.split("/")):
        raise ArtifactError(f"{where}: {name!r} must name a file inside the artifact (no absolute path, no '..')")
    if name == MANIFEST:
        raise ArtifactError(f"{where}: the manifest cannot list itself")


def _directory_entries(root: Path) -> list[str]:
    """Every non-directory entry under ``root`` (relative POSIX names); symlinked directories count as entries."""
    out = []
    for directory, dirs, names in os.walk(root, followlinks=False):
        base = Path(directory)
        for name in dirs:
            if (base / name).is_symlink():
                out.append((base / name).relative_to(root).as_posix())
        out.extend((base / name).relative_to(root).as_posix() for name in names)
    return out


# ---------------------------------------------------------------------- contents
def _where(root: Path, name: str) -> str:
    return f"ranker artifact file {str(root / name)!r}"


def _read_model(root: Path) -> FactorModel:
    try:
        model = Recommender.load(root / "model")
        return check_factor_model(model)
    except ModelFormatError as exc:
        raise ArtifactError(f"{_where(root, 'model')}: {exc}") from exc
    except UnservableModelError as exc:
        raise ArtifactError(f"{_where(root, 'model/model.json')}: field 'class': {exc}") from exc


def _read_npz(root: Path, name: str, expected: dict[str, tuple[str, tuple[int, ...] | None]]) -> dict[str, np.ndarray]:
    """The arrays of ``name``: exactly ``expected`` names, dtype kinds and shapes (``None``: any 1-d)."""
    try:
        with np.load(root / name, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # pickles raise ValueError here
        raise ArtifactError(f"{_where(root, name)} cannot be read without pickle: {exc}") from exc
    if set(arrays) != set(expected):
        raise ArtifactError(f"{_where(root, name)}: arrays {sorted(arrays)}, expected {sorted(expected)}")
    for key, (kinds, shape) in expected.items():
        array = arrays[key]
        if array.dtype.kind not in kinds:
            raise ArtifactError(f"{_where(root, name)}: array {key!r} has dtype {array.dtype}, expected kind {kinds!r}")
        if (shape is None and array.ndim != 1) or (shape is not None and array.shape != shape):
            raise ArtifactError(f"{_where(root, name)}: array {key!r} has shape {array.shape}, expected "
                                f"{shape if shape is not None else '1-d'}")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ArtifactError(f"{_where(root, name)}: array {key!r} holds NaN or infinite values")
    return arrays


def _csr(root: Path, arrays: dict[str, np.ndarray], n_jobs: int, n_features: int) -> sp.csr_matrix:
    indptr, indices, data = arrays["features_indptr"], arrays["features_indices"], arrays["features_data"]
    shape = tuple(int(v) for v in arrays["features_shape"])
    if shape != (n_jobs, n_features):
        raise ArtifactError(f"{_where(root, 'catalogue.npz')}: array 'features_shape' = {shape}, expected "
                            f"({n_jobs}, {n_features}) (jobs x the model's job features)")
    if (indptr[0] != 0 or indptr[-1] != len(indices) or (np.diff(indptr) < 0).any() or len(data) != len(indices)
            or (len(indices) and (indices.min() < 0 or indices.max() >= n_features))):
        raise ArtifactError(f"{_where(root, 'catalogue.npz')}: arrays 'features_*' do not form a CSR matrix of "
                            f"shape {shape}")
    return sp.csr_matrix((data.astype(np.float32), indices.astype(np.int32), indptr.astype(np.int64)), shape=shape)


def _read_table(root: Path, name: str, id_column: str, n_rows: int) -> pd.DataFrame:
    try:
        table = pd.read_parquet(root / name)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid (a ValueError) and others
        raise ArtifactError(f"{_where(root, name)} is not a readable Parquet table: {exc}") from exc
    if id_column not in table.columns:
        raise ArtifactError(f"{_where(root, name)}: column {id_column!r} is missing")
    if len(table) != n_rows:
        raise ArtifactError(f"{_where(root, name)} has {len(table)} rows, the manifest says {n_rows}")
    ids = table[id_column]
    if not ids.map(lambda v: isinstance(v, str)).all() or ids.duplicated().any():
        raise ArtifactError(f"{_where(root, name)}: column {id_column!r} must hold unique strings")
    return table

