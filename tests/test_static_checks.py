"""Types and lint: ``mypy --strict sockjs/``, ``ruff check sockjs/`` and
``ruff check .`` must report nothing (configuration: setup.cfg and
ruff.toml; versions pinned in constraints.txt)."""

import os
import subprocess
import sys
from typing import List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args: List[str]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m"] + args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_strict_reports_nothing() -> None:
    r = run(["mypy", "--strict", "sockjs/"])
    assert r.returncode == 0, "mypy --strict found problems:\n" + r.stdout + r.stderr
    assert "Success" in r.stdout


def test_ruff_reports_nothing() -> None:
    r = run(["ruff", "check", "--no-cache", "sockjs/"])
    assert r.returncode == 0, "ruff found problems:\n" + r.stdout + r.stderr


def test_ruff_format_has_nothing_to_change() -> None:
    # ruff.toml says which directories the formatter covers.
    r = run(["ruff", "format", "--check", "--no-cache", "."])
    assert r.returncode == 0, "ruff format would change these files (run `ruff format .`):\n" + r.stdout + r.stderr


def test_ruff_reports_nothing_on_the_whole_tree() -> None:
    # Tests, examples, benchmarks and the docs configuration too.
    r = run(["ruff", "check", "--no-cache", "."])
    assert r.returncode == 0, "ruff found problems:\n" + r.stdout + r.stderr


def test_the_package_ships_its_type_marker() -> None:
    assert os.path.exists(os.path.join(ROOT, "sockjs", "tornado", "py.typed"))
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        assert '"sockjs.tornado" = ["py.typed", "client/*.js"]' in f.read()
