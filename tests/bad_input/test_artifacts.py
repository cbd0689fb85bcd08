"""Malformed ranker and model artifacts: each raises ArtifactError / ModelFormatError naming the file and
field, and loading never changes a file (artifacts are data, never instructions)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.api import ArtifactError, Ranker, load_ranker
from recsys.data.dataset import Dataset
from recsys.io import sha256_file
from recsys.models import LightFMHybrid, Popularity
from recsys.models.base import ModelFormatError, Recommender
from recsys.models.registry import MODEL_CLASSES


@pytest.fixture(scope="module")
def fitted(tiny_data_dir: Path) -> tuple[LightFMHybrid, Dataset]:
    dataset = Dataset.load(tiny_data_dir)
    return LightFMHybrid(no_components=8, epochs=2, random_state=0).fit(dataset), dataset


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, dataset = fitted
    return Ranker.from_model(model, dataset).save(tmp_path_factory.mktemp("good") / "ranker")


@pytest.fixture()
def artifact(saved: Path, tmp_path: Path) -> Path:
    """A fresh copy of a valid ranker artifact, to damage."""
    return Path(shutil.copytree(saved, tmp_path / "ranker"))


def tree_digest(root: Path) -> dict[str, str]:
    """Every file below ``root`` (symlinks as their target text) -> sha256; what 'nothing changed' compares."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path)] = "link:" + str(path.readlink())
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def manifest(root: Path) -> dict:
    return json.loads((root / "ranker.json").read_text())


def write_manifest(root: Path, data: dict) -> None:
    (root / "ranker.json").write_text(json.dumps(data))


def rehash(root: Path) -> None:
    """Recompute every checksum and size (an attacker can): only the structural checks remain."""
    model_json = root / "model" / "model.json"
    if model_json.is_file() and (root / "model" / "arrays.npz").is_file():
        meta = json.loads(model_json.read_text())
        if isinstance(meta, dict):
            meta["arrays_sha256"] = sha256_file(root / "model" / "arrays.npz")
            model_json.write_text(json.dumps(meta))
    data = manifest(root)
    for name in list(data["files"]):
        file = root / name
        if file.is_file():
            data["files"][name] = {"bytes": file.stat().st_size, "sha256": sha256_file(file)}
    write_manifest(root, data)


def edit_manifest(**changes) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        data = manifest(root)
        for key, value in changes.items():
            if value is KeyError:
                del data[key]
            else:
                data[key] = value
        write_manifest(root, data)
    return damage


def rename_entry(new_name: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        data = manifest(root)
        data["files"][new_name] = data["files"].pop("catalogue.npz")
        write_manifest(root, data)
    return damage


def edit_npz(name: str, edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        with np.load(root / name, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        edit(arrays)
        np.savez(root / name, **arrays)
        rehash(root)
    return damage


def edit_model_json(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        file = root / "model" / "model.json"
        meta = json.loads(file.read_text())
        edit(meta)
        file.write_text(json.dumps(meta))
        rehash(root)
    return damage


def edit_table(name: str, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        edit(pd.read_parquet(root / name)).to_parquet(root / name, index=False)
        rehash(root)
    return damage


def truncate(name: str, keep: float, *, rehashed: bool) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        data = (root / name).read_bytes()
        (root / name).write_bytes(data[:int(len(data) * keep)])
        if rehashed:
            rehash(root)
    return damage


def flip_byte(name: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        data = bytearray((root / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (root / name).write_bytes(bytes(data))
    return damage


def plant(name: str, content: bytes) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return damage


def symlink_outside(name: str) -> Callable[[Path], None]:
    """Replace ``name`` by a symlink to an identical copy outside the artifact (checksums still match)."""
    def damage(root: Path) -> None:
        outside = root.parent / f"outside-{name.replace('/', '_')}"
        shutil.move(root / name, outside)
        (root / name).symlink_to(outside, target_is_directory=outside.is_dir())
    return damage


def pickle_array(arrays: dict) -> None:
    arrays["embeddings"] = np.array([{"__reduce__": "os.system"}] * len(arrays["biases"]), dtype=object)


PICKLE = b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x04true\x94\x85\x94R\x94."

RANKER_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    # manifest
    "manifest missing": (lambda root: (root / "ranker.json").unlink(), "ranker.json"),
    "manifest not json": (lambda root: (root / "ranker.json").write_text("{not json"), "corrupt"),
    "manifest a list": (lambda root: (root / "ranker.json").write_text("[1, 2]"), "kind"),
    "manifest wrong kind": (edit_manifest(kind="os.system"), "kind"),
    "format version 1": (edit_manifest(format_version=1), "format_version"),
    "format version 99": (edit_manifest(format_version=99), "format_version"),
    "manifest extra field": (edit_manifest(command="rm -rf /"), "unexpected field"),
    "manifest missing dim": (edit_manifest(dim=KeyError), "missing field"),
    "n_jobs a string": (edit_manifest(n_jobs="68"), "n_jobs"),
    "n_jobs a boolean": (edit_manifest(n_jobs=True), "n_jobs"),
    "n_jobs negative": (edit_manifest(n_jobs=-1), "n_jobs"),
    "now not a time": (edit_manifest(now="yesterday"), "now"),
    "now with offset": (edit_manifest(now="2024-03-30T22:59:00+08:00"), "now"),
    "unknown timezone": (edit_manifest(timezone="Mars/Olympus"), "timezone"),
    "max_reasons zero": (edit_manifest(max_reasons=0), "max_reasons"),
    "files not an object": (edit_manifest(files=["catalogue.npz"]), "files"),
    # names in the manifest
    "absolute path": (rename_entry("/etc/passwd"), "/etc/passwd"),
    "path traversal": (rename_entry("../../../../etc/passwd"), "etc/passwd"),
    "dot-dot inside": (rename_entry("model/../catalogue.npz"), "model/../catalogue.npz"),
    "dot segment": (rename_entry("./catalogue.npz"), "./catalogue.npz"),
    "backslash": (rename_entry("model\\..\\..\\x"), "not a relative POSIX path"),
    "windows drive": (rename_entry("C:/Windows/system.ini"), "C:/Windows"),
    "empty name": (rename_entry(""), "not a relative POSIX path"),
    "manifest lists itself": (rename_entry("ranker.json"), "list itself"),
    "entry not an object": (lambda root: write_manifest(root, {**manifest(root), "files": {
        **manifest(root)["files"], "catalogue.npz": "abc"}}), "catalogue.npz"),
    "file left out of the list": (lambda root: write_manifest(root, {**manifest(root), "files": {
        k: v for k, v in manifest(root)["files"].items() if k != "catalogue.npz"}}), "catalogue.npz"),
    # files in the directory
    "unlisted file": (plant("notes.txt", b"hello"), "unlisted"),
    "unlisted planted pickle": (plant("catalogue.pkl", PICKLE), "catalogue.pkl"),
    "unlisted file in model/": (plant("model/extra.npz", b"PK"), "model/extra.npz"),
    "unlisted hidden file": (plant(".hidden", b"x"), ".hidden"),
    "symlinked file": (symlink_outside("catalogue.npz"), "symlink"),
    "symlinked model directory": (symlink_outside("model"), "symlink"),
    "listed file missing": (lambda root: (root / "seekers.npz").unlink(), "seekers.npz"),
    "flipped byte": (flip_byte("catalogue.npz"), "sha256"),
    "flipped byte in model": (flip_byte("model/arrays.npz"), "sha256"),
    "truncated table": (truncate("seekers.parquet", 0.5, rehashed=False), "bytes"),
    "truncated npz, rehashed": (truncate("catalogue.npz", 0.5, rehashed=True), "catalogue.npz"),
    "truncated parquet, rehashed": (truncate("catalogue.parquet", 0.6, rehashed=True), "catalogue.parquet"),
    "empty npz, rehashed": (truncate("seekers.npz", 0.0, rehashed=True), "seekers.npz"),
    # arrays (checksums recomputed: only the structural checks can tell)
    "embeddings wrong dimension": (edit_npz("catalogue.npz", lambda a: a.update(
        embeddings=a["embeddings"][:, :-1])), "embeddings"),
    "embeddings wrong rows": (edit_npz("catalogue.npz", lambda a: a.update(
        embeddings=a["embeddings"][:-1])), "embeddings"),
    "biases wrong length": (edit_npz("catalogue.npz", lambda a: a.update(biases=a["biases"][:-2])), "biases"),
    "embeddings integer dtype": (edit_npz("catalogue.npz", lambda a: a.update(
        embeddings=a["embeddings"].astype(np.int64))), "embeddings"),
    "embeddings pickled objects": (edit_npz("catalogue.npz", pickle_array), "pickle"),
    "embeddings NaN": (edit_npz("catalogue.npz", lambda a: a["embeddings"].__setitem__((0, 0), np.nan)), "NaN"),
    "extra array": (edit_npz("catalogue.npz", lambda a: a.update(payload=np.zeros(3))), "arrays"),
    "missing array": (edit_npz("catalogue.npz", lambda a: a.pop("biases")), "arrays"),
    "feature index out of range": (edit_npz("catalogue.npz", lambda a: a["features_indices"].__setitem__(
        0, 10**9)), "features"),
    "feature shape mismatch": (edit_npz("catalogue.npz", lambda a: a.update(
        features_shape=a["features_shape"] + 1)), "features_shape"),
    "indptr not increasing": (edit_npz("catalogue.npz", lambda a: a["features_indptr"].__setitem__(
        1, 10**6)), "features"),
    "applied offsets inconsistent": (edit_npz("seekers.npz", lambda a: a["applied_offsets"].__setitem__(
        -1, 10**6)), "applied_offsets"),
    "seeker embeddings wrong dimension": (edit_npz("seekers.npz", lambda a: a.update(
        embeddings=np.hstack([a["embeddings"], a["embeddings"]]))), "embeddings"),
    # tables
    "duplicate job ids": (edit_table("catalogue.parquet", lambda t: t.assign(job_id=t["job_id"].iloc[0])),
                          "job_id"),
    "catalogue rows dropped": (edit_table("catalogue.parquet", lambda t: t.iloc[:-1]), "rows"),
    "seekers without ids": (edit_table("seekers.parquet", lambda t: t.drop(columns="seeker_id")), "seeker_id"),
    # the model inside
    "model class os.system": (edit_model_json(lambda m: m.update({"class": "os.system"})), "class"),
    "model class write_json": (edit_model_json(lambda m: m.update({"class": "recsys.io.write_json"})), "class"),
    "model class builtins.eval": (edit_model_json(lambda m: m.update({"class": "builtins.eval"})), "class"),
    "model class base Recommender": (edit_model_json(lambda m: m.update(
        {"class": "recsys.models.base.Recommender"})), "class"),
    "model class not a string": (edit_model_json(lambda m: m.update({"class": ["recsys.models.Popularity"]})),
                                 "class"),
    "model of an unservable class": (edit_model_json(lambda m: m.update(
        {"class": "recsys.models.popularity.Popularity", "params": {}})), "Popularity"),
    "model params unknown name": (edit_model_json(lambda m: m["params"].update(path="/tmp/x")), "path"),
    "model params wrong type": (edit_model_json(lambda m: m["params"].update(epochs="30")), "epochs"),
    "model params boolean for a number": (edit_model_json(lambda m: m["params"].update(no_components=True)),
                                          "no_components"),
    "model params not an object": (edit_model_json(lambda m: m.update(params=[1, 2])), "params"),
    "model params nested object": (edit_model_json(lambda m: m["params"].update(loss={"a": 1})), "loss"),
    "model.json extra field": (edit_model_json(lambda m: m.update(hook="os.system")), "hook"),
    "model state not an object": (edit_model_json(lambda m: m.update(state="x")), "state"),
    "model state incomplete": (edit_npz("model/arrays.npz", lambda a: a.pop("state.item_embeddings")), "state"),
    "model pickled array": (edit_npz("model/arrays.npz", lambda a: a.update(
        {"base.popularity": np.array([object()] * 3, dtype=object)})), "pickle"),
    "model base array missing": (edit_npz("model/arrays.npz", lambda a: a.pop("base.seeker_ids")), "seeker_ids"),
    "model base array wrong length": (edit_npz("model/arrays.npz", lambda a: a.update(
        {"base.known_jobs": a["base.known_jobs"][:-1]})), "known_jobs"),
    "model unexpected array": (edit_npz("model/arrays.npz", lambda a: a.update(payload=np.zeros(2))), "payload"),
    "model seen matrix out of range": (edit_npz("model/arrays.npz", lambda a: a["base.seen_indices"].__setitem__(
        0, 10**9)), "seen"),
    "model embedding dimension vs manifest": (edit_manifest(dim=7), "dim"),
    "model seeker embeddings cut short": (edit_npz("model/arrays.npz", lambda a: a.update(
        {"state.seeker_emb": a["state.seeker_emb"][:3]})), "model/arrays.npz"),
    "model job embeddings wrong width": (edit_npz("model/arrays.npz", lambda a: a.update(
        {"state.job_emb": a["state.job_emb"][:, :3]})), "model/arrays.npz"),
    "catalogue latitude as text": (edit_table("catalogue.parquet", lambda t: t.assign(lat="north")),
                                   "catalogue.parquet"),
    "seeker ages as text": (edit_table("seekers.parquet", lambda t: t.assign(age="old")), "seekers.parquet"),
    "seeker age beyond int16": (edit_table("seekers.parquet", lambda t: t.assign(age=40000)), "seekers.parquet"),
}


@pytest.mark.parametrize("case", list(RANKER_CASES))
def test_malformed_ranker_artifact_is_refused(artifact: Path, case: str) -> None:
    damage, names = RANKER_CASES[case]
    damage(artifact)
    before = tree_digest(artifact.parent)
    with pytest.raises(ArtifactError) as caught:
        load_ranker(artifact, set_default=False)
    assert names in str(caught.value), caught.value
    assert tree_digest(artifact.parent) == before, "loading changed a file"


def test_crafted_model_json_never_calls_what_it_names(artifact: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text('{"keep": true}')
    for target, params in (("recsys.io.write_json", {"path": str(victim), "payload": {}}),
                           ("recsys.data.synthetic.generate_preset", {"name": "tiny", "out_dir": str(tmp_path)}),
                           ("shutil.rmtree", {"path": str(tmp_path)})):
        edit_model_json(lambda m, t=target, p=params: m.update({"class": t, "params": p}))(artifact)
        with pytest.raises(ArtifactError, match="not a registered recommender class"):
            load_ranker(artifact, set_default=False)
        with pytest.raises(ModelFormatError, match="not a registered recommender class"):
            Recommender.load(artifact / "model")
    assert victim.read_text() == '{"keep": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ranker", "victim.json"]


# ---------------------------------------------------------------------- Recommender.load on its own
@pytest.fixture()
def model_dir(fitted, tmp_path: Path) -> Path:
    _, dataset = fitted
    return Popularity().fit(dataset).save(tmp_path / "model")


def rewrite_meta(path: Path, edit: Callable[[dict], None]) -> None:
    meta = json.loads((path / "model.json").read_text())
    edit(meta)
    (path / "model.json").write_text(json.dumps(meta))


MODEL_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "unlisted file": (lambda p: (p / "extra.bin").write_bytes(b"x"), "extra.bin"),
    "planted pickle": (lambda p: (p / "model.pkl").write_bytes(PICKLE), "model.pkl"),
    "arrays symlinked": (lambda p: symlink_outside("arrays.npz")(p), "symlink"),
    "arrays missing": (lambda p: (p / "arrays.npz").unlink(), "arrays.npz"),
    "unknown param": (lambda p: rewrite_meta(p, lambda m: m["params"].update(command="ls")), "command"),
    "param of the wrong kind": (lambda p: rewrite_meta(p, lambda m: m["params"].update(mode=3)), "mode"),
    "class outside the registry": (lambda p: rewrite_meta(p, lambda m: m.update({"class": "recsys.io.atomic_dir"})),
                                   "class"),
    "meta not an object": (lambda p: (p / "model.json").write_text("[]"), "JSON object"),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_malformed_model_artifact_is_refused(model_dir: Path, case: str) -> None:
    damage, names = MODEL_CASES[case]
    damage(model_dir)
    before = tree_digest(model_dir.parent)
    with pytest.raises(ModelFormatError) as caught:
        Recommender.load(model_dir)
    assert names in str(caught.value), caught.value
    assert tree_digest(model_dir.parent) == before


def test_registry_holds_only_recommenders_and_good_artifacts_load(saved: Path, fitted) -> None:
    model, dataset = fitted
    assert all(issubclass(cls, Recommender) for cls in MODEL_CLASSES.values())
    loaded = load_ranker(saved, set_default=False)
    seeker = dataset.seekers["seeker_id"][3]
    assert loaded.rank(seeker, k=5) == Ranker.from_model(model, dataset).rank(seeker, k=5)


def test_out_of_range_age_limits_in_a_saved_catalogue_are_refused_not_wrapped(artifact: Path) -> None:
    edit_table("catalogue.parquet", lambda t: t.assign(age_max=40000))(artifact)
    with pytest.raises(ArtifactError, match="age_max"):
        load_ranker(artifact, set_default=False)


@pytest.mark.parametrize("name", sorted(MODEL_CLASSES))
def test_every_registered_model_round_trips_through_the_checked_loader(fitted, tmp_path: Path, name: str) -> None:
    _, dataset = fitted
    cls = MODEL_CLASSES[name]
    model = cls(**({"epochs": 1, "no_components": 4} if "LightFM" in name else {})).fit(dataset)
    loaded = Recommender.load(model.save(tmp_path / "model"))
    assert type(loaded) is cls
    assert loaded.get_params() == {k: list(v) if isinstance(v, tuple) else v for k, v in model.get_params().items()}
    np.testing.assert_allclose(loaded.score(np.arange(5)), model.score(np.arange(5)))
