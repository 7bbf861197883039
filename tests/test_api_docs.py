"""README.rst's API part stays true to the code: valid
reStructuredText, every setting with its default, every stats key, every
close code the server uses; and a docstring on every public name of the
API modules."""
import ast
import importlib
import inspect
import io
import os
import re

import docutils.core
import pytest

from sockjs.tornado import session as session_mod
from sockjs.tornado.settings import DEFAULT_SETTINGS, DEFAULT_SOCKJS_URL
from sockjs.tornado.stats import StatsCollector

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "README.rst")) as _f:
    API_RST = _f.read()


def _section(title):
    start = API_RST.index("\n" + title + "\n")
    rest = API_RST[start + len(title) + 2:]
    m = re.search(r"\n[^\n]+\n(?:={3,}|-{3,})\n", rest[rest.index("\n", 1):])
    return rest if m is None else rest[:rest.index("\n", 1) + m.start()]


def test_api_rst_renders_without_warnings():
    warnings = io.StringIO()
    docutils.core.publish_doctree(API_RST, source_path="README.rst", settings_overrides={
        "warning_stream": warnings, "report_level": 2, "halt_level": 5})
    assert warnings.getvalue() == ""


def test_settings_table_lists_every_key_with_its_default():
    table = _section("Settings")
    rows = dict(re.findall(r"^``(\w+)``\s+(\S.*?)(?:\s{2,}|$)", table, re.M))
    missing = sorted(set(DEFAULT_SETTINGS) - set(rows))
    assert not missing, "settings missing from README.rst: %s" % missing
    assert not set(rows) - set(DEFAULT_SETTINGS), "README.rst documents unknown settings"
    for key, default in DEFAULT_SETTINGS.items():
        text = rows[key]
        if key == "sockjs_url":
            version = text.split()[-1]
            assert "@%s/" % version in DEFAULT_SOCKJS_URL, (text, DEFAULT_SOCKJS_URL)
            continue
        literal = re.fullmatch(r"``(.*)``", text)
        assert literal, "default of %s in README.rst is not a literal: %r" % (key, text)
        assert ast.literal_eval(literal.group(1)) == default, (key, text, default)


def test_stats_table_lists_every_dump_key():
    table = _section("Statistics")
    keys = set(StatsCollector().dump())
    for key in keys:
        if key.startswith("transp_"):
            assert "``%s``" % key[len("transp_"):] in table, key
        else:
            assert "``%s``" % key in table, key


def test_close_codes_table_lists_every_code_the_server_uses():
    table = _section("How a session ends")
    flat = " ".join(table.split())
    for name, value in vars(session_mod).items():
        if name.startswith("CLOSE_") and isinstance(value, tuple):
            code, reason = value
            assert re.search(r"^%d\s" % code, table, re.M), (name, code)
            assert "``%s``" % reason in flat or "``%s" % reason.split()[0] in flat, (name, reason)


API_MODULES = ["sockjs.tornado.conn", "sockjs.tornado.session", "sockjs.tornado.router",
               "sockjs.tornado.stats", "sockjs.tornado.migrate"]


@pytest.mark.parametrize("module", API_MODULES)
def test_every_public_name_has_a_docstring(module):
    mod = importlib.import_module(module)
    assert mod.__doc__
    missing = []
    for name, obj in vars(mod).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if not obj.__doc__:
                missing.append(name)
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                fn = value.fget if isinstance(value, property) else value
                if (inspect.isfunction(fn) or isinstance(value, property)) and not fn.__doc__:
                    missing.append("%s.%s" % (name, attr))
    assert not missing, "public names without a docstring in %s: %s" % (module, missing)
