"""Feature transformers: layout, unseen values, persistence, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.features import FeatureError, JobFeatures, SeekerFeatures
from recsys.features.blocks import MissingInputError, detect_analyzer
from tests.toy_tables import toy_jobs, toy_seekers


@pytest.fixture(scope="module")
def seekers() -> pd.DataFrame:
    return toy_seekers(40)


@pytest.fixture(scope="module")
def jobs() -> pd.DataFrame:
    return toy_jobs(30)


def test_layout_matches_names_and_block_slices(seekers: pd.DataFrame, jobs: pd.DataFrame) -> None:
    for features, table in ((SeekerFeatures(), seekers), (JobFeatures(), jobs)):
        matrix = features.fit(table).transform(table)
        assert sp.isspmatrix_csr(matrix) and matrix.dtype == np.float32
        assert matrix.shape == (len(table), len(features.feature_names_))
        slices = list(features.block_slices_.values())
        assert slices[0].start == 0 and slices[-1].stop == matrix.shape[1]
        assert all(a.stop == b.start for a, b in zip(slices[:-1], slices[1:], strict=True))
        assert list(features.block_slices_) == list(features.blocks)


def test_one_hot_and_multi_hot_rows(seekers: pd.DataFrame) -> None:
    features = SeekerFeatures(blocks=("district", "skills")).fit(seekers)
    matrix = features.transform(seekers).toarray()
    names = features.feature_names_
    for row in range(5):
        district = seekers["district"].iloc[row]
        assert matrix[row, names.index(f"district={district}")] == 1.0
        assert matrix[row, features.block_slices_["district"]].sum() == 1.0
        expected = sorted(f"skills={s}" for s in seekers["skills"].iloc[row])
        assert sorted(np.asarray(names)[matrix[row] == 1.0][1:]) == expected


def test_unseen_values_map_to_zero_rows_on_the_same_layout(seekers: pd.DataFrame) -> None:
    features = SeekerFeatures(blocks=("district", "skills", "groups")).fit(seekers)
    new = seekers.iloc[:2].copy()
    new["district"] = ["nansha", "tianhe"]  # nansha never seen in training
    new["skills"] = [["welding"], ["welding", "cooking"]]
    matrix = features.transform(new).toarray()
    assert matrix.shape[1] == len(features.feature_names_)
    assert matrix[0, features.block_slices_["district"]].sum() == 0.0
    assert matrix[1, features.feature_names_.index("district=tianhe")] == 1.0
    skills = matrix[:, features.block_slices_["skills"]]
    assert skills[0].sum() == 0.0 and skills[1].sum() == 1.0
    assert matrix[1, features.feature_names_.index("skills=cooking")] == 1.0


def test_transform_of_a_subset_equals_rows_of_the_whole(jobs: pd.DataFrame) -> None:
    features = JobFeatures().fit(jobs)
    whole = features.transform(jobs)
    part = features.transform(jobs.iloc[[7, 3, 11]])
    assert (abs(part - whole[[7, 3, 11]]) > 1e-7).nnz == 0


def test_wage_bands_use_training_quantiles() -> None:
    seekers = toy_seekers(4)
    seekers["reservation_wage"] = [1000.0, 2000.0, 3000.0, 4000.0]
    features = SeekerFeatures(blocks=("wage_band",), n_bands=2).fit(seekers)
    np.testing.assert_allclose(features.blocks_[0].edges, [2500.0])  # the median
    probe = seekers.iloc[:3].assign(reservation_wage=[100.0, 2499.0, 2500.0])
    np.testing.assert_array_equal(features.transform(probe).toarray(), [[1, 0], [1, 0], [0, 1]])


def test_job_wage_band_uses_monthly_equivalents(jobs: pd.DataFrame) -> None:
    frame = jobs.iloc[:2].assign(wage_min=[300.0, 6000.0], wage_max=[300.0, 6000.0], wage_unit=["day", "month"])
    features = JobFeatures(blocks=("wage_band",), n_bands=2).fit(frame)
    # 300/day x 21.75 days = 6525/month > 6000/month
    np.testing.assert_allclose(features.blocks_[0].edges, [(6525.0 + 6000.0) / 2])
    np.testing.assert_array_equal(features.transform(frame).toarray(), [[0, 1], [1, 0]])


def test_text_block_uses_chinese_character_ngrams(jobs: pd.DataFrame) -> None:
    features = JobFeatures(blocks=("text",), text_max_features=None, text_ngram_range=(1, 2)).fit(jobs)
    names = set(features.feature_names_)
    assert {"text:厨", "text:师", "text:厨师"} <= names
    matrix = features.transform(jobs)
    np.testing.assert_allclose(sp.linalg.norm(matrix, axis=1), 1.0, rtol=1e-5)  # L2 rows
    assert JobFeatures(blocks=("text",), text_max_features=5).fit(jobs).transform(jobs).shape[1] == 5


@pytest.mark.parametrize("cls", [SeekerFeatures, JobFeatures])
def test_state_round_trip_through_json_and_npz(cls: type, seekers: pd.DataFrame, jobs: pd.DataFrame,
                                               tmp_path: pytest.TempPathFactory) -> None:
    table = seekers if cls is SeekerFeatures else jobs
    blocks = cls.AVAILABLE_BLOCKS[:-1] if cls is SeekerFeatures else cls.AVAILABLE_BLOCKS
    features = cls(blocks=blocks).fit(table)
    arrays, meta = features.get_state()
    np.savez(tmp_path / "state.npz", **arrays)
    with np.load(tmp_path / "state.npz", allow_pickle=False) as data:
        loaded = {name: data[name] for name in data.files}
    restored = cls.from_state(loaded, json.loads(json.dumps(meta)))
    assert restored.feature_names_ == features.feature_names_
    assert (restored.transform(table) != features.transform(table)).nnz == 0


def test_bad_input_raises_clear_errors(seekers: pd.DataFrame) -> None:
    with pytest.raises(FeatureError, match="unknown block.*'colour'"):
        SeekerFeatures(blocks=("district", "colour")).fit(seekers)
    with pytest.raises(FeatureError, match="text_analyzer='klingon'"):
        JobFeatures(blocks=("text",), text_analyzer="klingon").fit(toy_jobs(5))
    with pytest.raises(FeatureError, match="not fitted"):
        SeekerFeatures().transform(seekers)
    with pytest.raises(FeatureError, match="n_bands"):
        SeekerFeatures(blocks=("age_band",), n_bands=1).fit(seekers)
    fitted = SeekerFeatures(blocks=("skills",)).fit(seekers)
    with pytest.raises(MissingInputError, match="column 'skills'"):  # a fitted block's column is required
        fitted.transform(seekers.drop(columns="skills"))
    with pytest.raises(FeatureError, match="cannot restore"):
        JobFeatures.from_state(*fitted.get_state())


# ---------------------------------------------------------------------- tables with columns missing
def test_blocks_without_input_are_skipped_and_reported(seekers: pd.DataFrame, caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    table = seekers.drop(columns=["reservation_wage", "education"]).assign(age=np.nan)
    with caplog.at_level("WARNING", logger="recsys.features.tables"):
        features = SeekerFeatures().fit(table)
    assert [b.name for b in features.blocks_] == ["district", "groups", "skills", "desired_job_types"]
    assert set(features.skipped_blocks_) == {"education", "wage_band", "age_band"}
    assert "'reservation_wage'" in features.skipped_blocks_["wage_band"]
    assert "no finite values" in features.skipped_blocks_["age_band"]
    assert len([r for r in caplog.records if "skipped feature block" in r.getMessage()]) == 1  # logged once
    described = features.describe().set_index("block")
    assert list(described.index) == list(features.blocks)
    assert not described.loc["age_band", "used"] and described.loc["skills", "used"]
    assert described.loc["wage_band", "columns"] == ["reservation_wage"]
    assert described["n_features"].sum() == features.n_features_
    matrix = features.transform(table)
    assert matrix.shape == (len(table), features.n_features_)
    assert not any(name.startswith(("wage_band", "age_band", "education")) for name in features.feature_names_)


def test_every_block_skipped_gives_an_empty_layout(seekers: pd.DataFrame) -> None:
    ids_only = seekers[["seeker_id"]]
    features = SeekerFeatures(blocks=SeekerFeatures.AVAILABLE_BLOCKS).fit(ids_only)
    assert features.n_features_ == 0 and set(features.skipped_blocks_) == set(SeekerFeatures.AVAILABLE_BLOCKS)
    assert features.transform(ids_only).shape == (len(seekers), 0)
    jobs = JobFeatures(blocks=JobFeatures.AVAILABLE_BLOCKS).fit(toy_jobs(6)[["job_id"]].assign(title=None))
    assert jobs.n_features_ == 0 and "text" in jobs.skipped_blocks_


def test_partially_null_columns_give_zero_entries(seekers: pd.DataFrame, jobs: pd.DataFrame) -> None:
    table = seekers.copy()
    table.loc[:4, "district"] = None
    table.loc[:4, "skills"] = None
    table.loc[:4, "reservation_wage"] = np.nan
    table["is_graduate"] = pd.array([True, None] * 20, dtype="boolean")
    table = table.drop(columns=["is_flexible"])
    features = SeekerFeatures(blocks=("district", "skills", "wage_band", "groups")).fit(table)
    matrix = features.transform(table).toarray()
    for block in ("district", "skills", "wage_band"):
        assert (matrix[:5, features.block_slices_[block]] == 0).all()
        assert (matrix[5:, features.block_slices_[block]].sum(axis=1) > 0).all()
    groups = [n for n in features.feature_names_ if n.startswith("groups=")]
    assert groups == ["groups=is_graduate", "groups=is_4050", "groups=is_unemployed"]  # the flags present
    assert matrix[1, features.feature_names_.index("groups=is_graduate")] == 0.0  # null flag = false
    job_table = jobs.assign(wage_max=np.nan, wage_unit=None)
    wage = JobFeatures(blocks=("wage_band",), n_bands=2).fit(job_table)
    np.testing.assert_allclose(wage.blocks_[0].edges, [np.median(jobs["wage_min"])])  # wage_min, monthly


def test_categories_are_learned_from_the_data(seekers: pd.DataFrame, jobs: pd.DataFrame) -> None:
    regions = np.array(["Bavaria", "Île-de-France", "Texas", "Kyoto"])
    table = jobs.assign(district=regions[np.arange(len(jobs)) % 4], job_type="contract", schedule=None)
    features = JobFeatures(blocks=("district", "job_type", "schedule")).fit(table)
    assert features.feature_names_ == [*(f"district={r}" for r in sorted(regions)), "job_type=contract"]
    assert features.skipped_blocks_.keys() == {"schedule"}
    assert (features.transform(table).sum(axis=1) == 2).all()


def test_text_analyser_follows_the_script(jobs: pd.DataFrame) -> None:
    english = jobs.assign(title=["Senior Data Engineer", "Line cook", "Warehouse picker"] * 10,
                          description="Full time role in Austin, TX")
    features = JobFeatures(blocks=("text",), text_max_features=None).fit(english)
    assert features.blocks_[0].analyzer_ == "word"
    assert {"text:data engineer", "text:line cook", "text:austin"} <= set(features.feature_names_)
    assert not {"text:s", "text:se", "text:da"} & set(features.feature_names_)  # no character n-grams
    chinese = JobFeatures(blocks=("text",), text_max_features=None).fit(jobs)
    assert chinese.blocks_[0].analyzer_ == "char" and "text:厨" in chinese.feature_names_
    forced = JobFeatures(blocks=("text",), text_max_features=None, text_analyzer="char").fit(english)
    assert forced.blocks_[0].analyzer_ == "char" and "text:da" in forced.feature_names_
    assert detect_analyzer(["软件工程师 Python", "Line cook", "Driver", "Nurse", ""]) == "char"  # 1 of 4 is CJK
    assert detect_analyzer(["Line cook", "Driver", "Nurse", "Welder", "软件工程师"]) == "char"
    assert detect_analyzer(["Line cook"] * 9 + ["软件工程师"]) == "word"
    # the analyser survives a save and load; only the title is used when the description is all null
    only_titles = english.assign(description=None)
    fitted = JobFeatures(blocks=("text",)).fit(only_titles)
    arrays, meta = fitted.get_state()
    restored = JobFeatures.from_state(arrays, json.loads(json.dumps(meta)))
    assert restored.blocks_[0].analyzer_ == "word" and restored.blocks_[0].columns_used == ["title"]
    assert (restored.transform(only_titles) != fitted.transform(only_titles)).nnz == 0


def test_state_with_skipped_blocks_round_trips(seekers: pd.DataFrame) -> None:
    table = seekers.drop(columns=["age", "education"])
    features = SeekerFeatures().fit(table)
    arrays, meta = features.get_state()
    restored = SeekerFeatures.from_state(arrays, json.loads(json.dumps(meta)))
    assert restored.skipped_blocks_ == features.skipped_blocks_
    assert restored.feature_names_ == features.feature_names_
    assert (restored.transform(table) != features.transform(table)).nnz == 0
