"""The package as users get it: a wheel built from this checkout (with
pyproject.toml, as ``pip install .`` builds it) passes ``twine check``,
carries the metadata PyPI shows (SPDX license, project URLs, Python floor,
extras), holds the package with its type marker and nothing else, and
imports from where it was installed."""

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from typing import Any, Dict, List

import pytest
from background import Background

import sockjs.tornado

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args: List[str], **kw: Any) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)


def _build_args(tmp: str) -> List[str]:
    # What a build reads, copied: setuptools writes build/ and *.egg-info
    # next to pyproject.toml, which must not race with another build (a
    # second pytest-xdist worker) or litter the checkout.
    src = os.path.join(tmp, "src")
    os.mkdir(src)
    for name in ("pyproject.toml", "setup.cfg", "README.rst", "LICENSE"):
        shutil.copy(os.path.join(ROOT, name), os.path.join(src, name))
    shutil.copytree(
        os.path.join(ROOT, "sockjs"), os.path.join(src, "sockjs"), ignore=shutil.ignore_patterns("__pycache__")
    )
    # --no-isolation: build with the setuptools of this venv (pinned by the
    # test extra), so the test needs no network.
    return [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", os.path.join(tmp, "dist"), src]


BUILD = Background(_build_args)
start_early = BUILD.start


@pytest.fixture(scope="module")
def wheel() -> Dict[str, Any]:
    r = BUILD.result()
    assert r.returncode == 0, r.stdout + r.stderr
    dist = os.path.join(r.dir, "dist")
    wheels = [f for f in os.listdir(dist) if f.endswith(".whl")]
    assert len(wheels) == 1, wheels
    path = os.path.join(dist, wheels[0])
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        meta_name = [n for n in names if n.endswith(".dist-info/METADATA")][0]
        metadata = Parser().parsestr(z.read(meta_name).decode("utf-8"))
    return {"path": path, "names": names, "metadata": metadata, "build_output": r.stdout + r.stderr}


def test_wheel_is_named_for_this_version(wheel: Dict[str, Any]) -> None:
    assert os.path.basename(wheel["path"]) == "sockjs_tornado-%s-py3-none-any.whl" % sockjs.tornado.__version__
    assert wheel["metadata"]["Version"] == sockjs.tornado.__version__


def test_twine_check_passes(wheel: Dict[str, Any]) -> None:
    r = run([sys.executable, "-m", "twine", "check", "--strict", wheel["path"]])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASSED" in r.stdout


def test_metadata_is_modern(wheel: Dict[str, Any]) -> None:
    meta = wheel["metadata"]
    assert meta["License-Expression"] == "MIT"
    assert not [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    assert meta["Requires-Python"] == ">=3.9"
    assert set(meta.get_all("Provides-Extra") or []) >= {"redis", "test", "docs"}
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues"} <= set(urls), urls
    assert all(u.startswith("https://") for u in urls.values())
    assert any(r.startswith("tornado>=6.1") for r in meta.get_all("Requires-Dist") or [])
    assert meta["Description-Content-Type"] == "text/x-rst"
    # The build itself warns about nothing deprecated (license classifiers,
    # setup.py invocations, a license table).
    assert "Deprecat" not in wheel["build_output"], wheel["build_output"]


def test_wheel_holds_the_package_and_its_type_marker_only(wheel: Dict[str, Any]) -> None:
    names = wheel["names"]
    assert "sockjs/tornado/py.typed" in names
    assert [n for n in names if n.startswith("sockjs/tornado/client/") and n.endswith(".js")], names
    assert "sockjs/tornado/router.py" in names
    assert "sockjs/tornado/transports/websocket.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    stray = [n for n in names if not (n.startswith("sockjs/") or ".dist-info/" in n)]
    assert not stray, stray


def test_installed_wheel_imports_from_where_it_was_installed(wheel: Dict[str, Any], tmp_path: Any) -> None:
    target = tmp_path / "site"
    r = run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            wheel["path"],
        ]
    )
    assert r.returncode == 0, r.stdout + r.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    code = (
        "import sockjs.tornado, sockjs.tornado.transports.websocket as t; "
        "print(sockjs.tornado.__file__); print(sockjs.tornado.__version__)"
    )
    r = run([sys.executable, "-c", code], env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    where, version = r.stdout.split()
    assert where.startswith(str(target)), where
    assert version == sockjs.tornado.__version__
