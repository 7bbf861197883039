"""Sphinx configuration of the sockjs-tornado documentation.

Build it with ``sphinx-build -W -b html docs docs/_build/html``;
tests/test_sphinx_docs.py runs the same build (warnings are errors,
every cross-reference must resolve)."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sockjs.tornado.version import __version__  # noqa: E402

project = "sockjs-tornado"
author = "the sockjs-tornado authors"
copyright = "2011-2026, the sockjs-tornado authors"
version = release = __version__

extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build"]
root_doc = "index"
language = "en"

# Every reference must resolve: a renamed class or a typo in a docstring
# fails the build.
nitpicky = True
# Names of other projects in signatures. The build runs offline (no
# intersphinx inventories), so these cannot be linked; they are not ours
# to document.
nitpick_ignore: list = []
nitpick_ignore: list = []
nitpick_ignore_regex = [
    (r"py:.*", r"(tornado|asyncio|concurrent|typing|typing_extensions|collections|socket|ssl|"
               r"http|logging|redis|json|re|types|enum|abc|contextvars|threading)(\..*)?"),
    (r"py:.*", r"(str|bytes|bytearray|memoryview|int|float|bool|dict|list|tuple|set|frozenset|"
               r"object|type|None|NoneType|Exception|BaseException|ValueError|TypeError|"
               r"Callable|Awaitable|Coroutine|Iterable|Iterator|Mapping|MutableMapping|Sequence|"
               r"Any|Optional|Union|NamedTuple|Protocol|TypeVar|Generic|Future|Task|"
               r"ellipsis|function|callable)"),
]

# Private names and stdlib internals that annotations or docstrings mention.
nitpick_ignore_regex.append((r"py:.*", r"(_asyncio\..*|.*\b_\w+|sockjs\.tornado\.origins\.Origin)"))
# Not public names: Origin is parse_origin's named tuple, attach() the
# hand-off a websocket delegate also accepts.
nitpick_ignore += [("py:class", "Origin"), ("py:meth", "attach")]

autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "both"

html_theme = "alabaster"
html_title = "sockjs-tornado %s" % release
html_static_path: list = []


def _resolve_short_name(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Let docstrings name our classes the way the code does (``SockJSConnection``,
    ``proto.encode_message``): a Python reference that Sphinx cannot find is
    looked up by its last dotted parts among the objects documented here, and
    linked when exactly one object matches."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    domain = env.get_domain("py")
    matches = sorted({name for name, *_ in domain.get_objects()
                      if name.startswith("sockjs.") and name.endswith("." + target)})
    if len(matches) != 1:
        # A short method name ("attach"): prefer the caller's own module.
        module = node.get("py:module") or ""
        matches = [m for m in matches if m.startswith(module + ".")] if module else matches
        if len(matches) != 1:
            return None
    from sphinx.util.nodes import make_refnode

    name = matches[0]
    docname = domain.objects[name].docname
    return make_refnode(app.builder, node["refdoc"], docname, name, contnode, name)


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_short_name)
