# One install, one `make report`, one `make test`. Everything lives in .venv/ at the repo root.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
APT_PKGS := dataset-fashion-mnist chromium graphviz

.PHONY: setup test bench fuzz report serve screenshots lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[runners,ray,dev]'
	$(BIN)/pip install -q --no-deps tf_keras==2.21.0
	touch $(STAMP)

# --dist loadfile: a module's tests share a worker, so its module fixtures are built once
# (pytest 9 ignores the nodeid suffix that xdist's loadgroup relies on); tests/conftest.py
# also keeps the files that share a session build (the quick suite, the toy suite) on one
# worker and starts the heaviest first.
test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

bench: setup
	$(BIN)/python -m bench

# The long mutation campaign on the model reader and analyzer, the log parser, and results
# stores through `tpulens diff` and the report (counts of runs, crashes and hangs; nonzero exit
# on any). Niced: about half an hour of one core, the stores most of it.
FUZZ_ARGS ?= --models 100000 --logs 50000 --stores 20000
fuzz: setup
	nice -n 19 $(BIN)/python -m bench.fuzz $(FUZZ_ARGS)

report: setup
	$(BIN)/tpulens run benchmarks.toml --profile default
	$(BIN)/tpulens report --results results --out site

# Serves what `make report` built; it never runs the suite itself.
serve: setup
	@test -f site/index.html || { echo "no site/ yet: run \`make report\` first"; exit 2; }
	$(BIN)/tpulens serve site

# The README's pictures, taken by the project's own command (headless Debian chromium).
screenshots: report
	$(BIN)/tpulens report --results results --out site --screenshots docs/img

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf site .pytest_cache
