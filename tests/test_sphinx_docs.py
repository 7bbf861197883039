"""The documentation site builds as CI builds it (``sphinx-build -W``,
every cross-reference resolved), and its API pages cover every public name:
each name in the ``__all__`` of every module of the package."""

import importlib
import os
import pkgutil
import posixpath
import sys
from typing import Any, Iterator, List, Set

import pytest
from background import Background, Built
from sphinx.util.inventory import InventoryFile

import sockjs.tornado

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _build_args(out: str) -> List[str]:
    docs = os.path.join(ROOT, "docs")
    return [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-E", "-q", "-b", "html", docs, out]


BUILD = Background(_build_args)
start_early = BUILD.start


@pytest.fixture(scope="module")
def built() -> Built:
    return BUILD.result()


def test_sphinx_build_has_no_warnings(built: Built) -> None:
    assert built.returncode == 0, built.stderr
    assert built.stderr.strip() == "", built.stderr


def _public_modules() -> Iterator[Any]:
    yield sockjs.tornado
    for info in pkgutil.walk_packages(sockjs.tornado.__path__, "sockjs.tornado."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)


def _documented(built: Built) -> Set[str]:
    with open(os.path.join(built.dir, "objects.inv"), "rb") as f:
        inventory = InventoryFile.load(f, "", posixpath.join)
    names: Set[str] = set()
    for kind, objects in inventory.items():
        if kind.startswith("py:"):
            names.update(objects)
    return names


def _documented_elsewhere(obj: Any, name: str, documented: Set[str]) -> bool:
    """A re-export counts as covered where it is defined (a class or a
    function), or where the same object is documented under its name."""
    home = "%s.%s" % (getattr(obj, "__module__", ""), getattr(obj, "__qualname__", ""))
    if home in documented:
        return True
    for full in documented:
        module, _, short = full.rpartition(".")
        if short == name and module in sys.modules and getattr(sys.modules[module], name, None) is obj:
            return True
    return False


def test_api_pages_cover_every_public_name(built: Built) -> None:
    assert built.returncode == 0, built.stderr
    documented = _documented(built)
    modules = list(_public_modules())
    assert len(modules) > 20
    missing: List[str] = []
    for mod in modules:
        if mod.__name__ not in documented:
            missing.append(mod.__name__)
        for name in getattr(mod, "__all__", ()):
            if name == "__version__":
                continue
            if "%s.%s" % (mod.__name__, name) not in documented and not _documented_elsewhere(
                getattr(mod, name), name, documented
            ):
                missing.append("%s.%s" % (mod.__name__, name))
    assert not missing, "public names missing from docs/api/: %s" % missing


def test_changelog_is_part_of_the_site(built: Built) -> None:
    with open(os.path.join(built.dir, "changelog.html")) as f:
        html = f.read()
    with open(os.path.join(ROOT, "CHANGELOG.rst")) as f:
        first_version = [line for line in f.read().splitlines() if line[:1].isdigit()][0]
    assert first_version.split()[0] in html


def test_performance_page_shows_the_latest_benchmark_table(built: Built) -> None:
    sys.path.insert(0, os.path.join(ROOT, "docs", "_ext"))
    from benchtable import read_table

    caption, headers, rows = read_table(os.path.join(ROOT, "bench", "README.md"))
    assert "sockjs-tornado (this)" in headers and len(rows) >= 10
    with open(os.path.join(built.dir, "performance.html")) as f:
        html = f.read()
    table = html[html.index('class="bench-table') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr") == len(rows) + 1
    for cells in rows:
        assert ">%s<" % cells[headers.index("sockjs-tornado (this)")] in table
