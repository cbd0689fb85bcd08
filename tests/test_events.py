"""One home for the event vocabulary, "seen" and "warm": every part of the package agrees with the funnel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.data import Dataset, EventFunnel, FunnelError
from recsys.data import dataset as dataset_module
from recsys.data.events import (
    DEFAULT_FUNNEL,
    INTERACTION_WEIGHTS,
    SEEN_EVENTS,
    SYNTHETIC_FUNNEL,
    TRAINING_SAMPLE_WEIGHTS,
)
from recsys.data.schema import INTERACTION_EVENTS
from recsys.evaluation.splits import temporal_split
from recsys.models import base, lightfm
from recsys.models.ease import EASE
from recsys.models.knn import ItemKNN
from recsys.models.popularity import Popularity
from tests.eval_tables import CUTOFF, EVENTS, hand_dataset, interactions_table, jobs_table, seekers_table


def test_the_constants_are_the_default_funnel() -> None:
    assert SYNTHETIC_FUNNEL.events == INTERACTION_EVENTS == ("view", "apply", "interview", "hire")
    assert DEFAULT_FUNNEL is SYNTHETIC_FUNNEL
    # interaction weights (every event) vs training sample weights (seen events, first one = 1)
    assert INTERACTION_WEIGHTS == SYNTHETIC_FUNNEL.interaction_weights == {"view": 1, "apply": 2, "interview": 3, "hire": 4}
    assert TRAINING_SAMPLE_WEIGHTS == SYNTHETIC_FUNNEL.training_weights == {"apply": 1.0, "interview": 1.5, "hire": 2.0}
    # one name per meaning: the ambiguous DEFAULT_EVENT_WEIGHTS of dataset.py and lightfm.py are gone
    assert not hasattr(dataset_module, "DEFAULT_EVENT_WEIGHTS") and not hasattr(lightfm, "DEFAULT_EVENT_WEIGHTS")
    assert SEEN_EVENTS == base.SEEN_EVENTS == SYNTHETIC_FUNNEL.seen_events == ("apply", "interview", "hire")
    assert SYNTHETIC_FUNNEL.warm_events == SYNTHETIC_FUNNEL.events


def test_funnel_definitions_and_errors() -> None:
    xing = EventFunnel(("click", "bookmark", "reply"), {"click": 1, "bookmark": 2, "reply": 5}, seen_from="bookmark")
    assert xing.seen_events == ("bookmark", "reply") and xing.training_weights == {"bookmark": 1.0, "reply": 2.5}
    assert EventFunnel(("click", "like")).weights == {"click": 1.0, "like": 2.0}  # default: funnel rank
    assert EventFunnel(("click", "like")).seen_events == ("click", "like")  # no apply: every event is seen
    assert EventFunnel.from_dict(xing.to_dict()) == xing and EventFunnel.from_dict(["a", "b"]).events == ("a", "b")
    for bad, match in (((), "at least one event"), (("a", "a"), "unique"), (("a", ""), "non-empty")):
        with pytest.raises(FunnelError, match=match):
            EventFunnel(bad)
    with pytest.raises(FunnelError, match=r"not in the funnel \['a'\]"):
        EventFunnel(("a",), {"b": 1.0})
    with pytest.raises(FunnelError, match="seen_from 'z'"):
        EventFunnel(("a",), seen_from="z")
    with pytest.raises(FunnelError, match="at least one funnel weight must be positive"):
        EventFunnel(("a",), {"a": 0.0})


def _view_only_dataset() -> Dataset:
    """The hand dataset plus a seeker (S4 already) whose only training event is a view."""
    events = [*EVENTS, ("S3", "J4", "2025-03-03 09:00", "view")]
    return Dataset(seekers_table(), jobs_table(), interactions_table(events))


def test_warm_and_seen_agree_between_dataset_base_class_and_splits() -> None:
    split = temporal_split(_view_only_dataset(), CUTOFF)
    train = split.train
    s3 = train.seeker_ids.to_rows(["S3"])[0]
    assert train.warm_seekers()[s3]  # a view makes a seeker warm ...
    assert train.seen_matrix()[s3].nnz == 0  # ... but nothing is seen
    for model in (Popularity(), ItemKNN(n_neighbors=5), EASE(l2=1.0)):
        model.fit(train)
        np.testing.assert_array_equal(model.known_seekers_, train.warm_seekers())
        np.testing.assert_array_equal(model.known_jobs_, train.warm_jobs())
        assert (model.seen_ != split.train_seen).nnz == 0
    np.testing.assert_array_equal(split.seeker_is_cold, ~train.warm_seekers()[split.seeker_rows])
    np.testing.assert_array_equal(split.job_is_new, ~train.warm_jobs())
    applied = train.interactions["event"].isin(SEEN_EVENTS)
    expected = np.bincount(train.interactions.loc[applied].drop_duplicates(["seeker_row", "job_row"])["job_row"],
                           minlength=train.n_jobs)
    np.testing.assert_array_equal(split.train_applicants, expected)



def test_lightfm_warm_is_a_trained_identity_and_follows_the_funnel() -> None:
    """LightFM trains on the funnel's training weights; a view-only seeker is served as cold."""
    from recsys.models.lightfm import LightFMCollaborative

    split = temporal_split(_view_only_dataset(), CUTOFF)
    train = split.train
    model = LightFMCollaborative(no_components=4, epochs=2, random_state=0).fit(train)
    s3 = train.seeker_ids.to_rows(["S3"])[0]
    assert train.warm_seekers()[s3] and not model.known_seekers_[s3] and model.seeker_identity_[s3] < 0
    trained = np.flatnonzero(model.seeker_identity_ >= 0)
    seen_rows = np.flatnonzero(np.diff(train.seen_matrix().indptr) > 0)
    np.testing.assert_array_equal(trained, seen_rows)  # identities = seekers with a training-weighted event
    assert model.unsupported_seekers(np.array([s3]))[0]  # the cold-seeker rule applies to it

def test_models_default_to_the_datasets_own_interaction_weights() -> None:
    funnel = EventFunnel(("view", "apply", "interview", "hire"), {"view": 0.5, "apply": 1, "interview": 7, "hire": 9})
    dataset = hand_dataset()
    custom = Dataset(dataset.seekers, dataset.jobs, interactions_table(), funnel=funnel)
    assert (custom.interaction_matrix() != dataset.interaction_matrix(funnel.weights)).nnz == 0
    for make in (lambda w: ItemKNN(n_neighbors=5, event_weights=w), lambda w: EASE(l2=1.0, event_weights=w)):
        implicit, explicit = make(None).fit(custom), make(dict(funnel.weights)).fit(dataset)
        rows = np.flatnonzero(implicit.known_seekers_)
        np.testing.assert_allclose(implicit.score(rows), explicit.score(rows))


def test_generated_data_loads_with_the_synthetic_funnel(tiny_data_dir) -> None:
    dataset = Dataset.load(tiny_data_dir)
    assert dataset.funnel == SYNTHETIC_FUNNEL
    counts = dataset.describe()["events"]
    assert list(counts) == list(INTERACTION_EVENTS) and counts["view"] > counts["apply"] > counts["hire"] > 0
    assert isinstance(dataset.interactions["event"].dtype, pd.CategoricalDtype)
