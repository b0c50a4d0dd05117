"""Student notebooks and an nbgrader course from the book's chapters (``make student``).

The chapters in ``book/`` are the instructor version: every exercise's solution is an nbgrader
solution cell (``### BEGIN SOLUTION`` ... ``### END SOLUTION``, or a manually graded markdown
answer with its rubric) and every check is a locked, graded test cell, some with
``### BEGIN HIDDEN TESTS`` regions. This script lays the chapters out as an nbgrader course, one
assignment per chapter, and runs nbgrader's own ``generate_assignment`` on each::

    OUT/course/nbgrader_config.py         the course's configuration
    OUT/course/source/<chapter>/          the instructor notebook (and the data files it reads)
    OUT/course/release/<chapter>/         what students get: solutions replaced by stubs that raise
                                          NotImplementedError, written answers by "YOUR ANSWER HERE",
                                          hidden tests removed, graded cells locked and checksummed
    OUT/notebooks/<chapter>.ipynb         the same student notebooks side by side, for Colab or Binder

An instructor copies ``OUT/course/source/*`` into the ``source/`` folder of their nbgrader course
(or uses ``OUT/course`` as the course), then releases, collects and autogrades as usual.

Usage: python scripts/student.py [--out student] [--jobs N] [chapter ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"

CONFIG = '''\
# nbgrader configuration of the balance-book course: one assignment per chapter of the book.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "balance-book"
c.CourseDirectory.root = {root!r}
# Chapters train small networks: give each notebook time to run when it is autograded.
c.Execute.timeout = {timeout}
# Kernels talk over Unix sockets in this folder, not TCP ports, so that courses graded at the same
# time on one machine (the tests grade chapters in parallel) never share a port.
c.KernelManager.transport = "ipc"
c.KernelManager.ip = {ipc!r}
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
'''


def graded_chapters() -> list[str]:
    """The chapters with nbgrader cells, in file-name order."""
    out = []
    for path in sorted(BOOK.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        if any("nbgrader" in c.get("metadata", {}) for c in nb["cells"]):
            out.append(path.stem)
    return out


def write_course(root: Path, chapters: list[str], *, timeout: int = 600) -> None:
    """``root/nbgrader_config.py`` and ``root/source/<chapter>/``: the chapter's notebook and ``data/``.

    ``timeout`` is the seconds a notebook cell may run when it is autograded.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG.format(root=str(root.resolve()), timeout=int(timeout),
                                                                ipc=str(root.resolve() / "kernel")))
    for chapter in chapters:
        folder = root / "source" / chapter
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copy2(BOOK / f"{chapter}.ipynb", folder / f"{chapter}.ipynb")
        # the stored results and benchmarks that chapters read from data/ (a few hundred KB)
        shutil.copytree(BOOK / "data", folder / "data")


def nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in the course ``root`` with this interpreter's nbgrader."""
    env = dict(os.environ)
    # nbgrader runs `alembic` (installed beside it) to set up its gradebook
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True, text=True,
                          check=check, env=env)


def generate(root: Path, assignments: str) -> None:
    """``nbgrader generate_assignment`` for the assignments matching the glob ``assignments``."""
    done = nbgrader(root, "generate_assignment", assignments, "--force", check=False)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment {assignments} failed:\n{done.stdout}\n{done.stderr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="chapter names (default: every chapter with exercises)")
    parser.add_argument("--out", type=Path, default=REPO / "student", help="output folder (default: student/)")
    args = parser.parse_args(argv)
    chapters = args.chapters or graded_chapters()
    root = args.out / "course"
    write_course(root, chapters)
    for assignments in (chapters if args.chapters else ["*"]):
        generate(root, assignments)
    flat = args.out / "notebooks"
    flat.mkdir(parents=True, exist_ok=True)
    for chapter in chapters:
        released = root / "release" / chapter
        shutil.copy2(released / f"{chapter}.ipynb", flat / f"{chapter}.ipynb")
        if (released / "data").is_dir():
            shutil.copytree(released / "data", flat / "data", dirs_exist_ok=True)
    print(f"{len(chapters)} student notebooks in {flat}; nbgrader course in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
