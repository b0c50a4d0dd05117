"""Every module of balance_lite names the chapter that teaches it, under the chapter's real title.

A module docstring holds a line ``Chapter: *Title*`` (or ``Chapters: *A*, *B* and *C*``); every
starred title must be the first heading of a file listed in ``_toc.yml``.
"""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p for p in (ROOT / "balance_lite").rglob("*.py"))


def chapter_titles() -> dict[str, str]:
    """``{title: file}`` of every chapter in ``_toc.yml`` (the first ``# `` heading of each file)."""
    files = re.findall(r"^\s*-?\s*(?:root|file):\s*(\S+)\s*$", (ROOT / "_toc.yml").read_text(), flags=re.M)
    titles = {}
    for name in files:
        path = next(p for p in (ROOT / f"{name}.ipynb", ROOT / f"{name}.md") if p.exists())
        if path.suffix == ".md":
            text = path.read_text()
        else:
            text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                             if c["cell_type"] == "markdown")
        title = next(line[2:].strip() for line in text.splitlines() if line.startswith("# "))
        titles[title] = name
    return titles


def named_chapters(docstring: str) -> list[str]:
    """The starred titles of the docstring's ``Chapter:`` / ``Chapters:`` paragraph."""
    m = re.search(r"^Chapters?:(.*?)(?:\n\s*\n|\Z)", docstring, flags=re.M | re.S)
    if m is None:
        return []
    return [t.replace("\n", " ") for t in re.findall(r"\*([^*]+)\*", m.group(1))]


def test_toc_titles_are_found():
    titles = chapter_titles()
    assert "The active learning loop in 30 lines" in titles and len(titles) >= 10


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_docstring_names_an_existing_chapter(path):
    doc = ast.get_docstring(ast.parse(path.read_text()))
    if path.name == "__init__.py" and not doc:
        pytest.skip("an empty package marker")
    assert doc, f"{path.name} has no module docstring"
    named = named_chapters(doc)
    assert named, f"{path.name}: its docstring names no chapter (a line 'Chapter: *Title*')"
    titles = chapter_titles()
    unknown = [t for t in named if t not in titles]
    assert not unknown, f"{path.name} names chapters that are not in _toc.yml: {unknown}; known: {sorted(titles)}"


def test_the_parser_reads_a_list_of_chapters():
    doc = "Summary.\n\nChapters: *A b*, *C*\nand *D e*.\n\nMore."
    assert named_chapters(doc) == ["A b", "C", "D e"]
    assert named_chapters("No chapter here.") == []
