"""recsys outside its checkout: a served model that runs from its own requirements.txt, and the wheel.

One fresh virtualenv (no system site-packages) is shared, in this order, to save an install:

1. it gets exactly the logged model's ``requirements.txt`` (recsys itself is *not* installed), and
   ``mlflow models serve --env-manager local`` serves ``models:/job-ranker@champion`` from it, with the
   recsys code the model carries, from a directory outside the checkout;
2. then the wheel built from this checkout is installed (its dependencies resolved by pip from the wheel's
   metadata: all present already, since the model's requirements come from the same list) and the
   commands run from an unrelated directory, writing under the current directory.

pip reuses its cache (the project's own ``make install`` fills it), so this needs no other download.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from recsys.api import Ranker
from recsys.api.pyfunc import log_ranker
from recsys.models.lightfm import LightFMHybrid
from recsys.paths import checkout_root
from tests.services import model_server
from tests.toy_tables import toy_dataset

pytestmark = pytest.mark.slow

CHECKOUT = checkout_root()
MODEL_NAME = "job-ranker"


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``command``; fail the test with its output if it fails."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def outside_env(venv: Path, **extra: str) -> dict[str, str]:
    """The environment of a user of ``venv``: its bin first on PATH, no trace of this test's interpreter."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "RECSYS_HOME")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               MLFLOW_DISABLE_TELEMETRY="true", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


@pytest.fixture(scope="module")
def ranker() -> Ranker:
    dataset = toy_dataset(60, 40)
    return Ranker.from_model(LightFMHybrid(no_components=8, epochs=3, random_state=0).fit(dataset), dataset)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory, ranker: Ranker) -> tuple[str, Path]:
    """A SQLite store holding the ranker as ``models:/job-ranker@champion``: its URI and a local copy of the model."""
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # artifacts beside the store: an experiment made without a location writes to ./mlruns
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("packaging-test",
                                                                 artifact_location=(folder / "artifacts").as_uri()))
    try:
        log_ranker(ranker, registered_model_name=MODEL_NAME, alias="champion")
        model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}@champion",
                                                             dst_path=str(tmp_path_factory.mktemp("model"))))
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    return uri, model_dir


@pytest.fixture(scope="module")
def store(logged: tuple[str, Path]) -> str:
    return logged[0]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, logged: tuple[str, Path]) -> Path:
    """A fresh virtualenv with exactly the logged model's ``requirements.txt`` installed."""
    model_dir = logged[1]
    requirements = (model_dir / "requirements.txt").read_text()
    assert "numba==" in requirements and "mlflow==" in requirements
    assert (model_dir / "code" / "recsys" / "api" / "ranker.py").is_file()
    path = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    run([str(path / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(model_dir / "requirements.txt")],
        cwd=path, env=outside_env(path), timeout=1200)
    return path


def test_the_logged_model_serves_from_its_own_requirements_outside_the_checkout(
        venv: Path, store: str, ranker: Ranker, tmp_path: Path) -> None:
    env = outside_env(venv, MLFLOW_TRACKING_URI=store)
    no_recsys = subprocess.run([str(venv / "bin" / "python"), "-c", "import recsys"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, check=False)
    assert no_recsys.returncode != 0, "recsys must come from the model's code/, not from the environment"
    with model_server(f"models:/{MODEL_NAME}@champion", env, tmp_path / "serve.log",
                      mlflow_bin=venv / "bin" / "mlflow", cwd=tmp_path, timeout=180) as url:
        seeker = str(ranker.seekers["seeker_id"][3])
        body = json.dumps({"dataframe_records": [{"seeker_id": seeker, "k": 4}]}).encode()
        request = urllib.request.Request(f"{url}/invocations", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = pd.DataFrame(json.loads(response.read())["predictions"])
        assert list(answer["job_id"]) == [rec.job_id for rec in ranker.rank(seeker, k=4)]
    assert not (tmp_path / "mlflow.db").exists()


def test_the_wheel_works_from_any_directory(venv: Path, tmp_path: Path) -> None:
    assert CHECKOUT is not None
    dist, work = tmp_path / "dist", tmp_path / "work"
    work.mkdir()
    # the wheel is built from a copy, so no build/ or egg-info is left in the checkout
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "recsys", "configs"):
        copy = shutil.copytree if (CHECKOUT / name).is_dir() else shutil.copy2
        copy(CHECKOUT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                                 if (CHECKOUT / name).is_dir() else {}))
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)], cwd=tmp_path,
        env=outside_env(venv), timeout=600)
    wheel = next(dist.glob("recsys-*.whl"))
    env = outside_env(venv)
    python, bin_dir = str(venv / "bin" / "python"), venv / "bin"
    run([python, "-m", "pip", "install", "-q", str(wheel)], cwd=work, env=env, timeout=900)
    installed = run([python, "-c", "import recsys.paths as p; print(p.checkout_root(), p.config_dir())"],
                    cwd=work, env=env).stdout.split()
    assert installed[0] == "None" and installed[1].startswith(str(venv)), installed

    data = work / "tiny-data"
    run([str(bin_dir / "recsys-generate"), "data=tiny", f"out_dir={data}"], cwd=work, env=env)
    assert json.loads((data / "manifest.json").read_text())["seed"] == 0
    quick = ["eval=quick", "eval.bootstrap_samples=20"]
    trained = run([str(bin_dir / "recsys-train"), "data=tiny", f"data_dir={data}", "model=popularity", *quick],
                  cwd=work, env=env).stdout
    assert f"store sqlite:///{work}/mlflow.db" in trained and "hr@10" in trained
    compared = run([str(bin_dir / "recsys-compare"), "data=tiny", f"data_dir={data}", "models=baselines", *quick],
                   cwd=work, env=env).stdout
    table = compared[compared.index("model "):compared.index("* baseline")].splitlines()
    assert "HR@10 [95% CI]" in table[0] and max(len(line) for line in table) <= 120
    run([python, "-c", "from recsys.data.synthetic import generate_preset; "
                       "generate_preset('tiny', 'api-data', seed=1, n_seekers=300, n_jobs=150)"], cwd=work, env=env)
    assert json.loads((work / "api-data" / "manifest.json").read_text())["seed"] == 1
    # everything went under the current directory (the recsys home without a checkout)
    assert {"mlflow.db", "mlartifacts", "outputs"} <= {p.name for p in work.iterdir()}
    assert len(list((work / "outputs" / "train").iterdir())) == 1
    assert len(list((work / "outputs" / "compare").iterdir())) == 1
