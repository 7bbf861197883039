"""``.. bench-table::``: the latest benchmark table of ``bench/README.md``,
rendered in the docs, so the figures have one source (the benchmark
writes them there; the performance page shows them).

Options: ``:columns:`` the headers to show, comma-separated (default:
all). The paragraph under the "Latest table" heading (what ran, when)
becomes the table's caption."""

import os
from typing import Any, Dict, List, Tuple

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

SECTION = "## Latest table"


def _cells(line: str) -> List[str]:
    return [c.strip().replace("`", "") for c in line.strip().strip("|").split("|")]


def read_table(path: str) -> Tuple[str, List[str], List[List[str]]]:
    """The caption, the headers and the rows of the latest table."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = lines.index(SECTION)
    body: List[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        body.append(line)
    table = [ln for ln in body if ln.startswith("|")]
    caption = " ".join(
        ln.strip() for ln in body if ln.strip() and not ln.startswith("|") and body.index(ln) < body.index(table[0])
    ).replace("`", "")
    headers = _cells(table[0])
    rows = [_cells(ln) for ln in table[2:]]
    return caption, headers, rows


class BenchTable(SphinxDirective):
    option_spec: Dict[str, Any] = {"columns": directives.unchanged}

    def run(self) -> List[nodes.Node]:
        path = os.path.join(self.env.srcdir, "..", "bench", "README.md")
        self.env.note_dependency(os.path.abspath(path))
        caption, headers, rows = read_table(path)
        wanted = [c.strip() for c in self.options.get("columns", "").split(",") if c.strip()] or headers
        missing = [c for c in wanted if c not in headers]
        if missing:
            raise self.error("bench/README.md has no column %s" % ", ".join(missing))
        index = [headers.index(c) for c in wanted]

        table = nodes.table(classes=["bench-table"])
        table += nodes.title(text=caption)
        group = nodes.tgroup(cols=len(index))
        table += group
        for _ in index:
            group += nodes.colspec(colwidth=1)

        def row(values: List[str]) -> nodes.row:
            r = nodes.row()
            for v in values:
                entry = nodes.entry()
                entry += nodes.paragraph(text=v)
                r += entry
            return r

        head = nodes.thead()
        head += row(wanted)
        group += head
        tbody = nodes.tbody()
        for cells in rows:
            tbody += row([cells[i] if i < len(cells) else "" for i in index])
        group += tbody
        return [table]


def setup(app: Any) -> Dict[str, Any]:
    app.add_directive("bench-table", BenchTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
