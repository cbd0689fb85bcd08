"""Every ```python and ```bash block of README.md and docs/*.md runs (on the ``tiny`` preset).

Each block is one test case, named ``<file>:<line>`` (the line of its opening fence), run in a temporary
project root: ``RECSYS_ROOT`` points there (with ``configs/`` linked in), so data, outputs and the MLflow
store of the commands stay out of the checkout. One tiny dataset and one trained, registered ranker
(``models:/job-ranker@champion``) are made once and shared.

A block that cannot run here is preceded by ``<!-- not-run: <why> -->`` (blank lines may separate them);
the reason must be given.

Substitutions, so the blocks run in minutes on the ``tiny`` preset (:func:`substitute`):

* ``data=small`` / ``data=city`` -> ``data=tiny``; ``generate_preset("small"`` -> ``generate_preset("tiny"``;
  ``data/synthetic/small`` -> ``data/synthetic/tiny``.
* ``recsys-train`` / ``recsys-compare`` / ``recsys-tune`` get ``data=tiny`` when they name no data (their
  defaults and experiments use ``small``); ``n_trials`` becomes 2.
* ``/tmp/`` -> the test's temporary directory.
* ``mlflow ui`` (a server that never exits) runs as ``mlflow ui --help``.

Bash blocks run line by line (``\\`` continuations joined); a command already run with the same text
(README and docs repeat some) is not run twice.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LANGUAGES = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash"}
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(?P<why>.*?)\s*-->\s*$")
TIMEOUT_S = 600


@dataclass(frozen=True)
class Block:
    file: Path
    line: int
    language: str
    code: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}"


def extract_blocks(path: Path) -> list[Block]:
    """The python/bash fenced blocks of ``path``, with the line of their opening fence."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, language, start = opening["indent"], opening["lang"].lower(), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        if language not in LANGUAGES:
            continue
        previous = start - 1
        while previous >= 0 and not lines[previous].strip():
            previous -= 1
        marker = NOT_RUN.match(lines[previous]) if previous >= 0 else None
        blocks.append(Block(path, start + 1, LANGUAGES[language], "\n".join(body) + "\n",
                            marker["why"] if marker else None))
    return blocks


BLOCKS = [block for path in DOCUMENTS for block in extract_blocks(path)]


def substitute(code: str, tmp: Path) -> str:
    """The documented substitutions (module docstring)."""
    code = re.sub(r"\bdata=(small|city)\b", "data=tiny", code)
    code = code.replace('generate_preset("small"', 'generate_preset("tiny"')
    code = code.replace("data/synthetic/small", "data/synthetic/tiny")
    code = code.replace("/tmp/", f"{tmp}/")
    return code


def substitute_command(command: str) -> str:
    words = command.split("#", 1)[0].split()
    if not words:
        return command
    if words[0] in ("recsys-train", "recsys-compare", "recsys-tune"):
        if not any(w.startswith(("data=", "+data=")) for w in words):
            command = f"{command.split('#', 1)[0].rstrip()} data=tiny"
        if words[0] == "recsys-tune":
            command = re.sub(r"\bn_trials=\d+", "n_trials=2", command)
            if "n_trials=" not in command:
                command = f"{command.split('#', 1)[0].rstrip()} n_trials=2"
    if words[:2] == ["mlflow", "ui"]:
        command = "mlflow ui --help > /dev/null"
    return command


def bash_commands(code: str) -> list[str]:
    """One command per logical line (``\\`` continuations joined), comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="session")
def docs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project root with ``configs/`` linked in, the tiny data and ``models:/job-ranker@champion``."""
    root = tmp_path_factory.mktemp("docs")
    (root / "configs").symlink_to(REPO / "configs", target_is_directory=True)
    env = docs_env(root)
    for command in ("recsys-generate data=tiny progress=false", "recsys-train model=lightfm_hybrid data=tiny register=true"):
        result = subprocess.run(shlex.split(command), cwd=root, env=env, capture_output=True, text=True,
                                timeout=TIMEOUT_S)
        assert result.returncode == 0, f"fixture command `{command}` failed:\n{result.stderr[-3000:]}"
    return root


def docs_env(root: Path) -> dict[str, str]:
    """The commands' environment: the temporary root and its MLflow store (mlflow.set_tracking_uri and
    set_registry_uri in other tests export MLFLOW_*_URI, which must not leak into the blocks)."""
    bin_dir = Path(sys.executable).parent
    return {**os.environ, "RECSYS_ROOT": str(root), "RECSYS_HOME": str(root),
            "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db", "MLFLOW_REGISTRY_URI": f"sqlite:///{root}/mlflow.db",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1",
            "MPLBACKEND": "Agg"}


_done: set[str] = set()


def test_not_run_markers_give_a_reason() -> None:
    unexplained = [block.where for block in BLOCKS if block.not_run is not None and len(block.not_run) < 10]
    assert not unexplained, f"<!-- not-run: ... --> needs a reason: {unexplained}"


def test_the_documents_have_blocks() -> None:
    assert len(BLOCKS) >= 5 and {b.language for b in BLOCKS} == {"python", "bash"}


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.not_run is None], ids=lambda b: b.where)
def test_block_runs(block: Block, docs_root: Path) -> None:
    env = docs_env(docs_root)
    code = substitute(block.code, docs_root)
    if block.language == "python":
        if code in _done:
            return
        result = subprocess.run([sys.executable, "-c", code], cwd=docs_root, env=env, capture_output=True,
                                text=True, timeout=TIMEOUT_S)
        assert result.returncode == 0, (f"{block.where} (python block) failed:\n{code}\n--- stderr:\n"
                                        f"{result.stderr[-4000:]}")
        _done.add(code)
        return
    for command in bash_commands(code):
        command = substitute_command(command)
        if command in _done:
            continue
        result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=docs_root, env=env,
                                capture_output=True, text=True, timeout=TIMEOUT_S)
        assert result.returncode == 0, (f"{block.where} (bash block): `{command}` exited {result.returncode}:\n"
                                        f"{result.stderr[-4000:]}")
        _done.add(command)
