"""Shared helper: replace one ``## name`` section of ``benchmarks/RESULTS.md`` atomically."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path

from recsys.io import atomic_file

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "# Benchmark results\n\nEach section is rewritten by its benchmark (`make bench`).\n"


def machine() -> str:
    """One line describing this machine: platform, CPU count, Python."""
    return f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def write_section(name: str, markdown_body: str, path: Path = RESULTS) -> Path:
    """Replace (or append) section ``## name`` with a date/machine line and ``markdown_body``.

    The file is written to a temporary sibling and renamed over the old one, so readers never see a
    half-written file; other sections are kept as they are.
    """
    header = f"## {name}\n\n_{dt.datetime.now().isoformat(timespec='seconds')} on {machine()}_\n\n"
    section = header + markdown_body.strip() + "\n"
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    text = text.rstrip("\n") + "\n"
    with atomic_file(path, "w", overwrite=True, encoding="utf-8") as handle:
        handle.write(text)
    return path
