# balance-book: `make book` builds the rendered book, `make test` runs every test.
# Both create the virtual environment .venv on first use (pinned by constraints.txt).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The offline copies of MNIST and Fashion-MNIST, where this checkout has them beside it.
SHARED_DATA := $(wildcard $(abspath ../shared/data))
export BALANCE_LITE_DATA ?= $(SHARED_DATA)
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: env book test bench student clean

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[book,test]"
	touch $@

vendor_js/vendor/.versions: scripts/vendor_js.sh
	scripts/vendor_js.sh

## The rendered book: executes every chapter (cached) and writes _build/html/index.html.
book: $(STAMP) vendor_js/vendor/.versions
	$(BIN)/jupyter-book build . -W -n --keep-going

## Every test: the library's unit tests and docstring examples, every chapter executed and autograded by
## nbgrader (instructor and student versions, tests/test_grading.py), the rendered book in Chromium.
## One chapter under nbval while writing it: .venv/bin/python -m pytest --nbval-lax book/ec2.ipynb
test: book
	scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile --doctest-modules -p no:cacheprovider balance_lite tests

## Student notebooks (solutions stubbed, hidden tests removed) and an nbgrader course, in student/.
student: $(STAMP)
	$(BIN)/python scripts/student.py --out student

## Speed and memory of the acquisition functions at the paper's scale (prints tables).
bench: $(STAMP)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[bench]"
	$(BIN)/python -m balance_lite.benchmarks.acquisition

clean:
	rm -rf _build vendor_js student
