"""The documentation stays true to the code: the settings page lists
every setting with its default, the monitoring page every stats key, the
guide every close code the server uses; and every public name of the API
modules has a docstring (the API pages are generated from them)."""

import ast
import importlib
import inspect
import os
import re

import pytest

from sockjs.tornado import session as session_mod
from sockjs.tornado.settings import DEFAULT_SETTINGS, DEFAULT_SOCKJS_URL
from sockjs.tornado.stats import StatsCollector

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _page(name):
    with open(os.path.join(ROOT, "docs", name)) as f:
        return f.read()


def _section(page, title):
    """The text of the section ``title`` of docs/``page``, up to the next
    heading of any level."""
    text = _page(page)
    start = text.index("\n" + title + "\n")
    rest = text[start + len(title) + 2 :]
    m = re.search(r"\n[^\n]+\n(?:={3,}|-{3,}|~{3,})\n", rest[rest.index("\n", 1) :])
    return rest if m is None else rest[: rest.index("\n", 1) + m.start()]


def test_settings_table_lists_every_key_with_its_default():
    table = _page("settings.rst")
    rows = dict(re.findall(r"^``(\w+)``\s+(\S.*?)(?:\s{2,}|$)", table, re.M))
    missing = sorted(set(DEFAULT_SETTINGS) - set(rows))
    assert not missing, "settings missing from docs/settings.rst: %s" % missing
    assert not set(rows) - set(DEFAULT_SETTINGS), "docs/settings.rst documents unknown settings"
    for key, default in DEFAULT_SETTINGS.items():
        text = rows[key]
        if key == "sockjs_url":
            version = text.split()[-1]
            assert "@%s/" % version in DEFAULT_SOCKJS_URL, (text, DEFAULT_SOCKJS_URL)
            continue
        literal = re.fullmatch(r"``(.*)``", text)
        assert literal, "default of %s in docs/settings.rst is not a literal: %r" % (key, text)
        assert ast.literal_eval(literal.group(1)) == default, (key, text, default)


def test_stats_table_lists_every_dump_key():
    table = _section("monitoring.rst", "Statistics")
    keys = set(StatsCollector().dump())
    for key in keys:
        if key.startswith("transp_"):
            assert "``%s``" % key[len("transp_") :] in table, key
        else:
            assert "``%s``" % key in table, key


def test_close_codes_table_lists_every_code_the_server_uses():
    table = _section("guide.rst", "How a session ends")
    flat = " ".join(table.split())
    for name, value in vars(session_mod).items():
        if name.startswith("CLOSE_") and isinstance(value, tuple):
            code, reason = value
            assert re.search(r"^%d\s" % code, table, re.M), (name, code)
            assert "``%s``" % reason in flat or "``%s" % reason.split()[0] in flat, (name, reason)


API_MODULES = [
    "sockjs.tornado.conn",
    "sockjs.tornado.session",
    "sockjs.tornado.router",
    "sockjs.tornado.stats",
    "sockjs.tornado.migrate",
]


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
