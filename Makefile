# Two entry points: `make demo` and `make test`. Each builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Torch for Detoxify must be the CPU build. Where pip cannot find it locally, point this at the
# PyTorch CPU index, e.g. TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu".
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=

.PHONY: demo test check lint bench mutation clean chromium screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The default scorer's sentence tier needs torch: the CPU build goes in first, so that nothing pulls
# a multi-GB CUDA build by accident.
$(VENV)/.base: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" $(TORCH_INDEX)
	$(BIN)/python -m pip install --quiet -e ".[embedding]"
	@# the check below catches a CUDA torch pulled in by accident
	@$(BIN)/python -c "import torch, sys; sys.exit(0 if '+cpu' in torch.__version__ or not torch.cuda.is_available() else 1)" \
		|| (echo "torch is not the CPU build; see README" && exit 1)
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(BIN)/python -m pip install --quiet -e ".[dev,detoxify,embedding,training,matrix-test]"
	touch $@

demo: $(VENV)/.base
	$(BIN)/longform demo

# The dashboard's browser tests drive Debian's Chromium (Playwright's own browser download is not
# used). Root (as CI runs) installs it with apt-get; otherwise the tests skip and say why.
chromium:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is not installed and cannot be (not root or no apt-get): the dashboard's browser tests will skip"; fi

test: $(VENV)/.dev chromium
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/check.sh

# Screenshots of the dashboard's main pages, from the demo conversations (README links them).
screenshots: $(VENV)/.dev chromium
	$(BIN)/python scripts/screenshots.py --out docs/dashboard

# Mutation testing of the core, storage, runtime and the adapters' execute/button modules, two
# mutants at a time; the report of survivors is .mutation/report.md. A sample of one group:
# make mutation MUTATION_ARGS="core --sample 100 --seed 18". See tests/README.md.
mutation: $(VENV)/.dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/mutation.py $(MUTATION_ARGS)

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV)
