"""Sphinx configuration of the sockjs-tornado documentation.

Build it with ``sphinx-build -W -b html docs docs/_build/html``;
tests/test_sphinx_docs.py runs the same build (warnings are errors,
every cross-reference must resolve)."""

import importlib
import inspect
import os
import re
import sys

from sphinx.pycode import ModuleAnalyzer
from sphinx.util.nodes import make_refnode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "docs", "_ext"))

from sockjs.tornado.version import __version__  # noqa: E402

project = "sockjs-tornado"
author = "the sockjs-tornado authors"
copyright = "2011-2026, the sockjs-tornado authors"
version = release = __version__

extensions = ["sphinx.ext.autodoc", "benchtable"]
exclude_patterns = ["_build"]
root_doc = "index"
language = "en"
# Keep "--option" as typed (no en dashes in commands).
smartquotes_action = "qe"

# Every reference must resolve: a renamed class or a typo in a docstring
# fails the build.
nitpicky = True
# Names of other projects in signatures. The build runs offline (no
# intersphinx inventories), so these cannot be linked; they are not ours
# to document.
nitpick_ignore: list = []
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(tornado|asyncio|concurrent|typing|typing_extensions|collections|socket|ssl|"
        r"http|logging|redis|json|re|types|enum|abc|contextvars|threading)(\..*)?",
    ),
    (
        r"py:.*",
        r"(str|bytes|bytearray|memoryview|int|float|bool|dict|list|tuple|set|frozenset|"
        r"object|type|None|NoneType|Exception|BaseException|ValueError|TypeError|"
        r"Callable|Awaitable|Coroutine|Iterable|Iterator|Mapping|MutableMapping|Sequence|"
        r"Any|Optional|Union|NamedTuple|Protocol|TypeVar|Generic|Future|Task|"
        r"ellipsis|function|callable)",
    ),
]

# Private names and stdlib internals that annotations or docstrings mention.
nitpick_ignore_regex.append((r"py:.*", r"(_asyncio\..*|.*\b_\w+|sockjs\.tornado\.origins\.Origin)"))
# Not public names: Origin is parse_origin's named tuple, attach() the
# hand-off a websocket delegate also accepts.
nitpick_ignore += [("py:class", "Origin"), ("py:meth", "attach")]

# Each module documents what it defines; a name it re-exports in its
# __all__ (session.py keeps the 1.x names) is documented where it lives.
autodoc_default_options = {
    "members": True,
    "ignore-module-all": True,
    "undoc-members": True,
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "both"

html_theme = "alabaster"
html_title = "sockjs-tornado %s" % release
html_theme_options = {"page_width": "1140px", "sidebar_width": "230px"}
html_static_path: list = []


_AUTOMODULE = re.compile(r"^\.\. automodule:: (\S+)\n((?:[ ]+\S.*\n)*)", re.M)


def _document_plain_constants(app, docname, source):  # type: ignore[no-untyped-def]
    """automodule skips module-level data without a ``#:`` comment. Every
    name in a module's ``__all__`` belongs in the API pages, so the plain
    constants a module defines (``OP_TEXT = 0x1``) get an ``autodata``
    entry after their module's ``automodule``."""
    if not docname.startswith("api/"):
        return

    def expand(m: "re.Match[str]") -> str:
        modname, options = m.group(1), m.group(2)
        if ":no-members:" in options:
            return m.group(0)
        mod = importlib.import_module(modname)
        analyzer = ModuleAnalyzer.for_module(modname)
        documented = analyzer.find_attr_docs()
        extra = []
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if name.startswith("__") or inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
                continue
            defined_here = re.search(r"^%s\s*(:[^=\n]*)?=" % re.escape(name), analyzer.code, re.M)
            if ("", name) in documented or not defined_here:
                continue
            extra.append(".. autodata:: %s.%s\n" % (modname, name))
            if len(repr(obj)) > 120:
                extra.append("   :no-value:\n")
        return m.group(0) + ("\n" + "".join(extra) if extra else "")

    source[0] = _AUTOMODULE.sub(expand, source[0])


def _home_of(target: str) -> str:
    """Where a re-exported name lives: ``sockjs.tornado.session.Broadcast``
    is ``sockjs.tornado.receiver.Broadcast``."""
    module, _, name = target.rpartition(".")
    if not module.startswith("sockjs."):
        return ""
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return ""
    return "%s.%s" % (getattr(obj, "__module__", ""), getattr(obj, "__qualname__", ""))


def _resolve_short_name(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Let docstrings name our classes the way the code does (``SockJSConnection``,
    ``proto.encode_message``): a Python reference that Sphinx cannot find is
    looked up by its last dotted parts among the objects documented here, and
    linked when exactly one object matches."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    domain = env.get_domain("py")
    home = _home_of(target)
    if home in domain.objects:
        return make_refnode(app.builder, node["refdoc"], domain.objects[home].docname, home, contnode, home)
    matches = sorted(
        {name for name, *_ in domain.get_objects() if name.startswith("sockjs.") and name.endswith("." + target)}
    )
    if len(matches) != 1:
        # A short method name ("attach"): prefer the caller's own module.
        module = node.get("py:module") or ""
        matches = [m for m in matches if m.startswith(module + ".")] if module else matches
        if len(matches) != 1:
            return None
    name = matches[0]
    docname = domain.objects[name].docname
    return make_refnode(app.builder, node["refdoc"], docname, name, contnode, name)


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_short_name)
    app.connect("source-read", _document_plain_constants)
