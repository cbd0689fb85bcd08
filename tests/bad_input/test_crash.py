"""Crash safety: SIGKILL a writer (``recsys-generate``, a ranker save, a model save) at several moments.

Whatever the moment, the target holds either the complete previous output (byte for byte) or a complete
new one; nothing half-written is ever visible there, and the next run removes what the killed one left.
Deterministic moments are reached by a hook in the child process that kills it at a chosen step of
:mod:`recsys.io`; timed kills hit the real CLI wherever it happens to be.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from recsys.api import Ranker
from recsys.api.artifact import load_ranker_dir
from recsys.data.dataset import Dataset
from recsys.data.synthetic import generate_preset
from recsys.io import recover_output
from recsys.models.base import Recommender
from tests.bad_input.conftest import leftovers, snapshot

REPO = Path(__file__).resolve().parents[2]
SMALL = ["data.n_seekers=300", "data.n_jobs=150"]
# The CLI replaces a dataset of another seed only with overwrite=true (recsys-generate's rule for a
# dataset other commands may rely on); the kill moments below are about the replacement itself.

CHILD = textwrap.dedent('''
    """Run one writer and SIGKILL this process at a chosen moment (argv: mode target point hydra_dir)."""
    import os, signal, sys, threading, time
    from pathlib import Path

    import recsys.io as io

    mode, target, point, hydra_dir = sys.argv[1:5]
    target = Path(os.path.abspath(target))
    own = f".{target.name}."  # prefix of the target's temporary and old siblings

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if point.startswith("fallback"):  # a platform without renameat2(RENAME_EXCHANGE)
        io._exchange = lambda a, b: False
    if point == "mid-write":  # once the temporary directory holds a few files
        def watch():
            while True:
                for entry in os.listdir(target.parent):
                    if entry.startswith(own + "tmp-"):
                        if sum(len(files) for _, _, files in os.walk(target.parent / entry)) >= 2:
                            die()
                time.sleep(0.0005)
        threading.Thread(target=watch, daemon=True).start()
    elif point == "before-swap":  # everything written, nothing renamed yet
        swap = io._swap_into_place
        io._swap_into_place = lambda new, dest: die() if Path(dest) == target else swap(new, dest)
    elif point == "fallback-between-renames":  # old output moved aside, new one not yet in place
        rename = os.rename
        def killing_rename(src, dst):
            rename(src, dst)
            if Path(dst).name.startswith(own + "old-"):
                die()
        os.rename = killing_rename
    elif point in ("after-exchange", "fallback-after-swap"):  # new output in place, old not yet removed
        remove = io._remove
        io._remove = lambda path: die() if Path(path).name.startswith(own) else remove(path)

    if mode == "generate":
        sys.argv = ["recsys-generate", "data=tiny", f"out_dir={target}", "seed=2", "progress=false", "overwrite=true",
                    f"hydra.run.dir={hydra_dir}", "data.n_seekers=300", "data.n_jobs=150"]
        from recsys.cli.generate import main
        main()
    elif mode == "model":
        from recsys.models import Popularity
        from tests.toy_tables import toy_dataset
        Popularity().fit(toy_dataset(40, 30, seed=5)).save(target)
    elif mode == "ranker":
        from recsys.api import Ranker
        from recsys.models.lightfm import LightFMHybrid
        from tests.toy_tables import toy_dataset
        data = toy_dataset(40, 30, seed=5)
        Ranker.from_model(LightFMHybrid(no_components=8, epochs=2, random_state=5).fit(data), data).save(target)
    else:
        raise SystemExit(f"unknown mode {mode}")
''')


def _child(tmp_path: Path) -> Path:
    script = tmp_path / "crash_child.py"
    if not script.exists():
        script.write_text(CHILD, encoding="utf-8")
    return script


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "MLFLOW_DISABLE_TELEMETRY": "true"}


def _run_child(tmp_path: Path, mode: str, target: Path, point: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(_child(tmp_path)), mode, str(target), point, str(tmp_path / "hydra")],
                          env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)


def _previous_output(mode: str, target: Path, fitted_model: Recommender, toy_ranker: Ranker) -> None:
    if mode == "generate":
        generate_preset("tiny", target, seed=1, n_seekers=300, n_jobs=150)
    elif mode == "model":
        fitted_model.save(target)
    else:
        toy_ranker.save(target)


def _load(mode: str, target: Path) -> object:
    """Load ``target`` completely (all checksums verified); raises on a partial output."""
    if mode == "generate":
        manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        dataset = Dataset.load(target)
        assert manifest["row_counts"]["seekers"] == len(dataset.seekers)
        return dataset
    return Recommender.load(target) if mode == "model" else load_ranker_dir(target)


MODES = ["generate", "model", "ranker"]
OLD_SURVIVES = ["mid-write", "before-swap"]
NEW_IN_PLACE = ["after-exchange", "fallback-after-swap"]


@pytest.fixture()
def area(tmp_path: Path) -> Path:
    (tmp_path / "area").mkdir()
    return tmp_path / "area"


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("point", OLD_SURVIVES)
def test_kill_before_the_swap_keeps_the_previous_output(tmp_path: Path, area: Path, mode: str, point: str,
                                                        fitted_model: Recommender, toy_ranker: Ranker) -> None:
    target = area / "out"
    _previous_output(mode, target, fitted_model, toy_ranker)
    before = snapshot(target)
    result = _run_child(tmp_path, mode, target, point)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    assert snapshot(target) == before  # the previous output, byte for byte
    assert leftovers(area), "the killed writer should have left its temporary directory"
    _run_child(tmp_path, mode, target, "none").check_returncode()  # the next run completes and cleans up
    _load(mode, target)
    assert snapshot(target) != before and leftovers(area) == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("point", NEW_IN_PLACE)
def test_kill_after_the_swap_leaves_the_complete_new_output(tmp_path: Path, area: Path, mode: str, point: str,
                                                            fitted_model: Recommender, toy_ranker: Ranker) -> None:
    target = area / "out"
    _previous_output(mode, target, fitted_model, toy_ranker)
    before = snapshot(target)
    result = _run_child(tmp_path, mode, target, point)
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    _load(mode, target)
    assert snapshot(target) != before
    assert leftovers(area), "the old output should still be next to the new one"
    recover_output(target)
    assert leftovers(area) == []
    _load(mode, target)


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_kill_between_the_two_renames_is_recovered(tmp_path: Path, area: Path, mode: str,
                                                   fitted_model: Recommender, toy_ranker: Ranker) -> None:
    """Without RENAME_EXCHANGE the old output is moved aside first; the recovery step puts it back."""
    target = area / "out"
    _previous_output(mode, target, fitted_model, toy_ranker)
    before = snapshot(target)
    result = _run_child(tmp_path, mode, target, "fallback-between-renames")
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    assert not target.exists() and any(".old-" in name for name in leftovers(area))
    recover_output(target)  # what the next writer (and a reader that calls it) does first
    assert snapshot(target) == before
    assert not any(".old-" in name for name in leftovers(area))
    _run_child(tmp_path, mode, target, "none").check_returncode()
    _load(mode, target)
    assert leftovers(area) == []


@pytest.mark.slow
def test_next_writer_recovers_and_replaces_after_a_kill_between_renames(tmp_path: Path, area: Path,
                                                                         fitted_model: Recommender) -> None:
    target = area / "out"
    fitted_model.save(target)
    assert _run_child(tmp_path, "model", target, "fallback-between-renames").returncode == -signal.SIGKILL
    assert not target.exists()
    fitted_model.save(target)  # not "refused": the restored directory is a previous model
    Recommender.load(target)
    assert leftovers(area) == []


@pytest.mark.slow
@pytest.mark.parametrize(("start", "delay_s"), [("launch", 0.3), ("launch", 0.8), ("launch", 1.5),
                                               ("writing", 0.0), ("writing", 0.05), ("writing", 0.3)])
def test_recsys_generate_killed_at_any_moment(tmp_path: Path, area: Path, start: str, delay_s: float) -> None:
    """Timed kills of the real CLI, ``delay_s`` after its launch or after its temporary directory appeared
    (while it writes): the target is always the old dataset or a complete new one."""
    target = generate_preset("tiny", area / "data", seed=1, n_seekers=300, n_jobs=150)
    before = snapshot(target)
    cli = [str(Path(sys.executable).parent / "recsys-generate"), "data=tiny", f"out_dir={target}", "seed=2",
           "progress=false", "overwrite=true", f"hydra.run.dir={tmp_path / 'hydra'}", *SMALL]
    process = subprocess.Popen(cli, env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + delay_s if start == "launch" else None
    while process.poll() is None and (deadline is None or time.monotonic() < deadline):
        assert (target / "manifest.json").is_file()  # a reader never finds nothing
        if deadline is None and leftovers(area):
            deadline = time.monotonic() + delay_s
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    after = snapshot(target)
    if after != before:
        dataset = _load("generate", target)  # a complete new dataset, never a mix
        assert json.loads((target / "manifest.json").read_text(encoding="utf-8"))["seed"] == 2
        assert len(dataset.seekers) > 0
    rerun = subprocess.run(cli, env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    _load("generate", target)
    assert leftovers(area) == []


@pytest.mark.slow
def test_readers_never_find_nothing_while_a_model_is_replaced(tmp_path: Path, area: Path,
                                                              fitted_model: Recommender) -> None:
    target = fitted_model.save(area / "model")
    loop = textwrap.dedent(f'''
        from recsys.models import Popularity
        from tests.toy_tables import toy_dataset
        model = Popularity().fit(toy_dataset(40, 30))
        for _ in range(40):
            model.save({str(target)!r})
    ''')
    writer = subprocess.Popen([sys.executable, "-c", loop], env=_env(), cwd=tmp_path)
    checks = misses = 0
    while writer.poll() is None:
        checks += 1
        misses += not (target / "model.json").is_file()
    assert writer.wait() == 0
    assert checks > 100 and misses == 0
    Recommender.load(target)
    assert leftovers(area) == []
