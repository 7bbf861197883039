"""Version metadata: one place (sockjs/tornado/version.py), read by
pyproject.toml, exported as sockjs.tornado.__version__, named by CHANGELOG.rst."""

import os
import re

import sockjs.tornado
from sockjs.tornado import version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEP440 = re.compile(r"^\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def test_version_is_exported_and_pep440() -> None:
    assert sockjs.tornado.__version__ == version.__version__
    assert "__version__" in sockjs.tornado.__all__
    assert PEP440.match(sockjs.tornado.__version__), sockjs.tornado.__version__
    assert sockjs.tornado.__version__.startswith("2.")


def test_packaging_reads_the_same_version() -> None:
    # pyproject.toml takes the version from version.py (the built wheel's
    # version is checked in tests/test_packaging.py).
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        text = f.read()
    assert re.search(r'^dynamic = \["version"\]$', text, re.M)
    assert re.search(r'^version = \{ attr = "sockjs\.tornado\.version\.__version__" \}$', text, re.M)
    assert not os.path.exists(os.path.join(ROOT, "setup.py"))


def test_changelog_names_this_release_first() -> None:
    with open(os.path.join(ROOT, "CHANGELOG.rst")) as f:
        text = f.read()
    headings = re.findall(r"^(\d+\.\d+\.\d+)\b.*\n=+$", text, re.M)
    release = re.match(r"\d+\.\d+\.\d+", sockjs.tornado.__version__)
    assert release is not None
    assert headings and headings[0] == release.group(0)
    assert "1.0.7" in text
