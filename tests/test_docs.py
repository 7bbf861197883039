"""README.rst and CHANGELOG.rst are valid reStructuredText (PyPI renders
them without Sphinx), and the logging page names every logger the package
logs through."""

import io
import os
import re

import docutils.core
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("path", ["README.rst", "CHANGELOG.rst"])
def test_rst_renders_without_warnings(path: str) -> None:
    with open(os.path.join(ROOT, path)) as f:
        source = f.read()
    warnings = io.StringIO()
    docutils.core.publish_doctree(
        source, source_path=path, settings_overrides={"warning_stream": warnings, "report_level": 2, "halt_level": 5}
    )
    assert warnings.getvalue() == ""


def test_guide_documents_every_logger() -> None:
    with open(os.path.join(ROOT, "docs", "monitoring.rst")) as f:
        guide = f.read()
    pkg = os.path.join(ROOT, "sockjs", "tornado")
    names = set()
    for dirpath, _, files in os.walk(pkg):
        for name in files:
            if not name.endswith(".py"):
                continue
            with open(os.path.join(dirpath, name)) as f:
                text = f.read()
            m = re.search(r'getLogger\("(sockjs\.tornado[a-z._]*)"\)', text)
            if m and re.search(r"\blog\.(debug|info|warning|error|exception)\(", text):
                names.add(m.group(1))
    assert "sockjs.tornado.session" in names
    missing = [n for n in sorted(names) if "``%s``" % n not in guide]
    assert not missing, "loggers missing from docs/monitoring.rst: %s" % missing


def test_readme_is_the_short_pypi_page_and_links_into_the_docs() -> None:
    with open(os.path.join(ROOT, "README.rst")) as f:
        readme = f.read()
    assert len(readme.splitlines()) < 200
    # The two commands, the install truth, the echo example.
    assert "bash scripts/demo.sh" in readme and "bash scripts/test.sh" in readme
    assert "1.0.7" in readme and "pip install ." in readme
    assert "class EchoConnection(SockJSConnection)" in readme
    # Every docs page it names exists, and every page of the site is named.
    named = set(re.findall(r"``(docs/[\w/]+(?:\.rst|/))``", readme))
    assert named
    for path in named:
        assert os.path.exists(os.path.join(ROOT, path)), path
    pages = {
        "docs/%s" % n
        for n in os.listdir(os.path.join(ROOT, "docs"))
        if n.endswith(".rst") and n not in ("index.rst", "changelog.rst")
    }
    assert not pages - named, "docs pages README.rst does not list: %s" % sorted(pages - named)
