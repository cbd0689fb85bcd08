"""A foreign job-board export end to end: ``recsys-import``, a split, every model, evaluation, a ranker.

The export (:func:`tests.test_import.write_job_board`) has US regions, no coordinates, English titles,
only ``view``/``apply`` events, integer ids and timestamps with offsets: nothing is invented to get it in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.api.ranker import Ranker
from recsys.cli.import_data import main as import_main
from recsys.data import Dataset
from recsys.evaluation import evaluate
from recsys.evaluation.splits import temporal_split
from recsys.models import (
    EASE,
    Content,
    ItemKNN,
    LightFMCollaborative,
    LightFMHybrid,
    Popularity,
    RandomRecommender,
)
from tests.test_import import STATES, write_job_board

FAST = {"no_components": 8, "epochs": 3, "random_state": 0}


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    folder = tmp_path_factory.mktemp("foreign")
    mapping = write_job_board(folder / "export", n_users=80, n_postings=50, seed=3)
    assert import_main([str(mapping), "--out", str(folder / "dataset")]) == 0
    return Dataset.load(folder / "dataset")


@pytest.mark.parametrize("make", [
    lambda: RandomRecommender(seed=0), lambda: Popularity(), lambda: Popularity(mode="district"),
    lambda: ItemKNN(n_neighbors=10), lambda: EASE(l2=10.0), lambda: Content(),
    lambda: LightFMCollaborative(**FAST), lambda: LightFMHybrid(**FAST),
], ids=["random", "popularity", "popularity_district", "item_knn", "ease", "content", "lightfm", "hybrid"])
def test_every_model_fits_and_is_evaluated_on_the_import(foreign: Dataset, make) -> None:
    split = temporal_split(foreign, last_days=20)
    result = evaluate(make().fit(split.train), split, ks=(5, 10), n_resamples=50)
    hr = result.summary.query("metric == 'hr' and k == 10")["mean"].iloc[0]
    assert 0.0 <= hr <= 1.0 and result.summary["n"].iloc[0] == split.n_test


def test_the_hybrid_serves_rankings_on_the_import(foreign: Dataset, tmp_path: Path) -> None:
    split = temporal_split(foreign, last_days=20)
    model = LightFMHybrid(**FAST).fit(split.train)
    ranker = Ranker.from_model(model, split.train)
    assert ranker.timezone == "America/Chicago"  # the dataset's declared zone
    known = ranker.seeker_ids.ids[0]
    ranking = ranker.rank(known, k=5, districts=list(STATES))
    assert 0 < len(ranking) <= 5 and all(rec.job_id in set(foreign.job_ids.ids) for rec in ranking)
    # no coordinates: the commute filter is off, and asking for it is refused with a named field
    with pytest.raises(ValueError, match="max_commute_km"):
        ranker.rank(known, k=5, max_commute_km=10.0)
    # a new seeker by profile (only the columns this dataset has) and a new posting
    profile = {"district": "Ohio", "skills": ["python", "sql"]}
    assert len(ranker.rank(profile, k=5)) > 0
    posting = pd.DataFrame({"job_id": ["new-1"], "title": ["Data analyst"], "employer_id": ["Acme 1"],
                            "district": ["Ohio"], "posted_at": [ranker.now]})
    ranker.add_jobs(posting)
    scores = {rec.job_id: rec.score for rec in ranker.rank(profile, k=len(ranker.catalogue))}
    assert "new-1" in scores and np.isfinite(scores["new-1"])
    # persistence round trip ranks the same
    loaded = Ranker.load(ranker.save(tmp_path / "ranker"))
    assert [r.job_id for r in loaded.rank(known, k=5)] == [r.job_id for r in ranker.rank(known, k=5)]
