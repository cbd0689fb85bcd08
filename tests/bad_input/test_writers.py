"""Every writer x {new path, empty dir, foreign dir, file, symlink, decoy marker, other kind, same kind,
overwrite}: a writer replaces only a previous output of its own kind unless told to overwrite, and never
leaves temporary or old siblings behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from recsys.api import Ranker
from recsys.api.artifact import load_ranker_dir
from recsys.data.dataset import Dataset
from recsys.data.synthetic import generate_preset
from recsys.io import OUTPUT_KINDS, OutputExistsError, atomic_dir, atomic_file, recover_output, write_json
from recsys.models.base import Recommender
from tests.bad_input.conftest import assert_unchanged, leftovers, plant_foreign_dir, snapshot


@dataclass(frozen=True)
class DirWriter:
    kind: str
    write: Callable[[Path, bool], Path]
    check: Callable[[Path], object]
    """Loads the output (raises if it is not a complete output of this kind)."""


def _generate(path: Path, overwrite: bool) -> Path:
    return generate_preset("tiny", path, seed=1, n_seekers=120, n_jobs=60, overwrite=overwrite)


def _report(path: Path, overwrite: bool) -> Path:
    with atomic_dir(path, kind="report", overwrite=overwrite) as tmp:
        (tmp / "report.md").write_text("# report\n", encoding="utf-8")
        (tmp / "comparison.csv").write_text("model,hr\n", encoding="utf-8")
    return path


def _check_report(path: Path) -> str:
    return (path / "report.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def writers(fitted_model: Recommender, toy_ranker: Ranker) -> dict[str, DirWriter]:
    return {
        "dataset": DirWriter("dataset", _generate, Dataset.load),
        "model": DirWriter("model", lambda p, o: fitted_model.save(p, overwrite=o), Recommender.load),
        "ranker": DirWriter("ranker", lambda p, o: toy_ranker.save(p, overwrite=o), load_ranker_dir),
        "report": DirWriter("report", _report, _check_report),
    }


WRITERS = ["dataset", "model", "ranker", "report"]


def _marker(kind: str) -> str:
    return OUTPUT_KINDS[kind].marker


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ------------------------------------------------------------------------------------------ writes allowed
@pytest.mark.parametrize("name", WRITERS)
def test_new_path_is_written_with_missing_parents(writers: dict, name: str, tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "out"
    writers[name].write(out, False)
    writers[name].check(out)
    assert (out / _marker(name)).is_file() and leftovers(out.parent) == []


@pytest.mark.parametrize("name", WRITERS)
def test_empty_directory_is_written(writers: dict, name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writers[name].write(out, False)
    writers[name].check(out)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", WRITERS)
def test_previous_output_of_the_same_kind_is_replaced(writers: dict, name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    writers[name].write(out, False)
    sibling = tmp_path / "keep.txt"
    sibling.write_text("neighbour", encoding="utf-8")
    previous_marker = (out / _marker(name)).stat().st_ino
    writers[name].write(out, False)
    writers[name].check(out)
    assert (out / _marker(name)).stat().st_ino != previous_marker  # a new output, not the old one kept
    assert sibling.read_text(encoding="utf-8") == "neighbour"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "out"]


# ------------------------------------------------------------------------------------------ writes refused
@pytest.mark.parametrize("name", WRITERS)
def test_foreign_non_empty_directory_is_refused(writers: dict, name: str, tmp_path: Path) -> None:
    out = plant_foreign_dir(tmp_path / "mine")
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError) as info:
        writers[name].write(out, False)
    message = str(info.value)
    assert str(out) in message and "overwrite" in message and name in message
    assert isinstance(info.value, ValueError)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("name", WRITERS)
def test_a_file_in_place_is_refused(writers: dict, name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("precious", encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(ValueError, match="out"):  # OutputExistsError (or the generator's out_dir check)
        writers[name].write(out, False)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("name", WRITERS)
def test_a_symlink_to_a_foreign_directory_is_refused(writers: dict, name: str, tmp_path: Path) -> None:
    real = plant_foreign_dir(tmp_path / "real")
    out = tmp_path / "out"
    out.symlink_to(real, target_is_directory=True)
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match="symlink"):
        writers[name].write(out, False)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("name", WRITERS)
def test_a_decoy_marker_does_not_make_a_directory_ours(writers: dict, name: str, tmp_path: Path) -> None:
    out = plant_foreign_dir(tmp_path / "webapp")
    marker = out / _marker(name)
    marker.write_text(json.dumps({"name": "my web app", "icons": []}) if marker.suffix == ".json" else "",
                      encoding="utf-8")
    if name == "report":  # a report is recognised by report.md alone: a decoy is a directory, not a file
        marker.unlink()
        marker.mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError):
        writers[name].write(out, False)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("name", ["dataset", "model", "ranker"])  # the kinds with a JSON marker
def test_a_json_marker_that_is_not_an_object_is_refused(writers: dict, name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / _marker(name)).write_text("[1, 2, 3]", encoding="utf-8")
    (out / "other.bin").write_bytes(b"\x00\x01")
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match="format_version|valid"):
        writers[name].write(out, False)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize(("name", "other"), [("dataset", "model"), ("model", "ranker"), ("ranker", "dataset"),
                                             ("report", "model"), ("model", "report")])
def test_an_output_of_another_kind_is_refused(writers: dict, name: str, other: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    writers[other].write(out, False)
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match=f"not a {name}"):
        writers[name].write(out, False)
    assert_unchanged(before, tmp_path)
    writers[other].check(out)


# ------------------------------------------------------------------------------------------ explicit overwrite
@pytest.mark.parametrize("name", WRITERS)
def test_overwrite_replaces_a_foreign_directory(writers: dict, name: str, tmp_path: Path) -> None:
    out = plant_foreign_dir(tmp_path / "mine")
    writers[name].write(out, True)
    writers[name].check(out)
    assert not (out / "notes.txt").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("name", WRITERS)
def test_overwrite_replaces_a_file_but_not_its_neighbours(writers: dict, name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("old", encoding="utf-8")
    (tmp_path / "neighbour.txt").write_text("keep", encoding="utf-8")
    if name == "dataset":  # the generator refuses a file out_dir before it writes (a dataset is a directory)
        with pytest.raises(ValueError, match="out_dir"):
            writers[name].write(out, True)
        assert out.read_text(encoding="utf-8") == "old"
    else:
        writers[name].write(out, True)
        writers[name].check(out)
    assert (tmp_path / "neighbour.txt").read_text(encoding="utf-8") == "keep" and leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["model", "ranker", "report"])
def test_overwrite_replaces_a_symlink_not_what_it_points_to(writers: dict, name: str, tmp_path: Path) -> None:
    real = plant_foreign_dir(tmp_path / "real")
    before = snapshot(real)
    out = tmp_path / "out"
    out.symlink_to(real, target_is_directory=True)
    writers[name].write(out, True)
    assert not out.is_symlink() and (out / _marker(name)).is_file()
    assert_unchanged(before, real)


@pytest.mark.parametrize("name", WRITERS)
def test_overwrite_of_the_same_kind_is_a_plain_replacement(writers: dict, name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    writers[name].write(out, False)
    writers[name].write(out, True)
    writers[name].check(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ------------------------------------------------------------------------------------------ leftovers
@pytest.mark.parametrize("name", WRITERS)
def test_temporary_folders_of_dead_writers_are_removed(writers: dict, name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    dead = tmp_path / f".out.tmp-{_dead_pid()}-abcd1234"
    dead.mkdir()
    (dead / "half.parquet").write_bytes(b"PAR1")
    writers[name].write(out, False)
    assert not dead.exists() and leftovers(tmp_path) == []


def test_temporary_folder_of_a_live_writer_is_kept(fitted_model: Recommender, tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            busy = tmp_path / f".out.tmp-{live.pid}-abcd1234"
            busy.mkdir()
            (busy / "part").write_text("in progress", encoding="utf-8")
            before = snapshot(busy)
            fitted_model.save(tmp_path / "out")
            assert_unchanged(before, busy)
        finally:
            live.kill()


def test_temporary_folder_older_than_a_reused_pid_is_removed(fitted_model: Recommender, tmp_path: Path) -> None:
    stale = tmp_path / f".out.tmp-{os.getppid()}-abcd1234"  # the parent is alive, but started long before
    stale.mkdir()
    os.utime(stale, (1_000_000_000, 1_000_000_000))  # created in 2001: older than any running process
    fitted_model.save(tmp_path / "out")
    assert not stale.exists()


def test_temporary_folders_of_other_targets_are_left_alone(fitted_model: Recommender, tmp_path: Path) -> None:
    other = tmp_path / f".other.tmp-{_dead_pid()}-abcd1234"
    other.mkdir()
    fitted_model.save(tmp_path / "out")
    assert other.is_dir()


def test_a_failing_write_keeps_the_previous_output_and_cleans_up(fitted_model: Recommender, tmp_path: Path) -> None:
    out = fitted_model.save(tmp_path / "out")
    before = snapshot(tmp_path)
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_dir(out, kind="model") as tmp:
            (tmp / "model.json").write_text("{}", encoding="utf-8")
            raise RuntimeError("disk on fire")
    assert_unchanged(before, tmp_path)


def test_something_appearing_during_the_write_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(OutputExistsError):
        with atomic_dir(out, kind="report") as tmp:
            (tmp / "report.md").write_text("new", encoding="utf-8")
            plant_foreign_dir(out)  # another program creates the directory meanwhile
    assert (out / "notes.txt").read_text(encoding="utf-8") == "my notes\n" and leftovers(tmp_path) == []


def test_unknown_kind_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        with atomic_dir(tmp_path / "out", kind="pickle"):
            pass  # pragma: no cover
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ recovery
def test_old_output_of_a_writer_killed_between_renames_is_restored(fitted_model: Recommender, tmp_path: Path) -> None:
    out = fitted_model.save(tmp_path / "out")
    before = snapshot(out)
    old = tmp_path / f".out.old-{_dead_pid()}-abcd1234"
    os.rename(out, old)  # the state a kill between the two renames leaves
    recover_output(out)
    assert_unchanged(before, out)
    assert leftovers(tmp_path) == []
    Recommender.load(out)


def test_old_output_is_removed_once_the_new_one_is_in_place(fitted_model: Recommender, tmp_path: Path) -> None:
    out = fitted_model.save(tmp_path / "out")
    old = tmp_path / f".out.old-{_dead_pid()}-abcd1234"
    old.mkdir()
    (old / "model.json").write_text("{}", encoding="utf-8")
    before = snapshot(out)
    fitted_model.save(tmp_path / "other")  # unrelated target: the .out.old sibling stays
    assert old.exists()
    recover_output(out)
    assert not old.exists()
    assert_unchanged(before, out)


def test_replacement_without_rename_exchange_keeps_the_old_output_until_the_end(
        fitted_model: Recommender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import recsys.io

    monkeypatch.setattr(recsys.io, "_exchange", lambda a, b: False)
    out = fitted_model.save(tmp_path / "out")
    fitted_model.save(out)
    Recommender.load(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ------------------------------------------------------------------------------------------ single files
def test_write_json_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_text('{"mine": true}', encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write_json(target, {"theirs": 1})
    assert_unchanged(before, tmp_path)


def test_write_json_overwrite_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_text('{"mine": true}', encoding="utf-8")
    write_json(target, {"theirs": 1}, overwrite=True)
    assert json.loads(target.read_text(encoding="utf-8")) == {"theirs": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_write_json_writes_a_new_file_with_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    write_json(target, {"x": [1, 2]})
    assert json.loads(target.read_text(encoding="utf-8")) == {"x": [1, 2]}


@pytest.mark.parametrize("overwrite", [False, True])
def test_write_json_never_replaces_a_directory(tmp_path: Path, overwrite: bool) -> None:
    target = plant_foreign_dir(tmp_path / "conf.json")
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match="directory"):
        write_json(target, {}, overwrite=overwrite)
    assert_unchanged(before, tmp_path)


@pytest.mark.parametrize("overwrite", [False, True])
def test_atomic_file_never_writes_through_a_symlink(tmp_path: Path, overwrite: bool) -> None:
    real = tmp_path / "passwd"
    real.write_text("root:x:0:0", encoding="utf-8")
    link = tmp_path / "out.txt"
    link.symlink_to(real)
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match="symlink"):
        with atomic_file(link, overwrite=overwrite) as handle:
            handle.write("pwned")  # pragma: no cover
    assert_unchanged(before, tmp_path)


def test_atomic_file_failure_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "results.md"
    target.write_text("old results", encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(KeyError):
        with atomic_file(target, overwrite=True) as handle:
            handle.write("half")
            raise KeyError("interrupted")
    assert_unchanged(before, tmp_path)


def test_atomic_file_does_not_replace_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(OutputExistsError):
        with atomic_file(target) as handle:
            handle.write("mine")
            target.write_text("theirs", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "theirs" and leftovers(tmp_path) == []


def test_atomic_file_removes_temporary_files_of_dead_writers(tmp_path: Path) -> None:
    dead = tmp_path / f".out.txt.tmp-{_dead_pid()}-xyz"
    dead.write_text("half", encoding="utf-8")
    with atomic_file(tmp_path / "out.txt") as handle:
        handle.write("done")
    assert not dead.exists() and (tmp_path / "out.txt").read_text(encoding="utf-8") == "done"


@pytest.mark.parametrize("where", ["cwd", "parent of cwd"])
def test_overwrite_never_replaces_the_current_directory_or_its_parents(
        fitted_model: Recommender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    project = plant_foreign_dir(tmp_path / "project")
    (project / "src").mkdir()
    monkeypatch.chdir(project / "src" if where == "parent of cwd" else project)
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match="current directory"):
        fitted_model.save(project, overwrite=True)
    assert_unchanged(before, tmp_path)


def test_overwrite_never_replaces_the_home_directory(fitted_model: Recommender, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    home = plant_foreign_dir(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match="home"):
        fitted_model.save(home, overwrite=True)
    assert_unchanged(before, tmp_path)


def test_new_file_is_published_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    write_json(tmp_path / "out.json", {"a": 1})
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8")) == {"a": 1}
    with pytest.raises(OutputExistsError):
        write_json(tmp_path / "out.json", {"a": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


@pytest.mark.parametrize("name", WRITERS)
def test_a_file_in_place_of_a_parent_directory_is_refused(writers: dict, name: str, tmp_path: Path) -> None:
    (tmp_path / "parent").write_text("a file", encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match="is a file"):
        writers[name].write(tmp_path / "parent" / "out", False)
    assert_unchanged(before, tmp_path)


def test_write_json_below_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "parent").write_text("a file", encoding="utf-8")
    before = snapshot(tmp_path)
    with pytest.raises(OutputExistsError, match="is a file"):
        write_json(tmp_path / "parent" / "x.json", {})
    assert_unchanged(before, tmp_path)


def test_old_output_of_a_live_writer_is_left_to_it(fitted_model: Recommender, tmp_path: Path) -> None:
    out = fitted_model.save(tmp_path / "out")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            moving = tmp_path / f".out.old-{live.pid}-abcd1234"
            os.rename(out, moving)  # a live writer between its two renames
            before = snapshot(tmp_path)
            recover_output(out)
            assert_unchanged(before, tmp_path)
        finally:
            live.kill()
    recover_output(out)  # its writer is gone now: the old output comes back
    Recommender.load(out)
