# simplechat — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch from PyTorch's CPU index (no multi-GB CUDA libraries). GPU machines:
#   make install TORCH_INDEX_URL=https://download.pytorch.org/whl/cu130
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
PORT ?= 8080
PYTEST_ARGS ?=

export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

# Two steps: what serving and training need (make run, make models), then the test tools.
$(VENV)/.installed-run: pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing torch, the predictors' and the training dependencies into $(VENV) (first time: a few minutes)"
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar on --extra-index-url $(TORCH_INDEX_URL) "$(TORCH_SPEC)"
	$(PY) -m pip install --progress-bar on -c constraints.txt -e '.[train]'
	@touch $@

$(VENV)/.installed: $(VENV)/.installed-run
	@echo "installing the test and development tools (Ray, playwright, schemathesis, ...)"
	$(PY) -m pip install --progress-bar on -c constraints.txt -e '.[dev]'
	@touch $@

.PHONY: install
install: $(VENV)/.installed ## Create .venv with everything needed to train, serve and test

# pip list, not pip freeze: name==version even for a wheel installed from a file (no file:// URLs).
.PHONY: constraints
constraints: install ## Re-pin every dependency into constraints.txt (after editing pyproject.toml)
	{ head -3 constraints.txt; $(PY) -m pip list --format=freeze --exclude-editable --disable-pip-version-check \
		--exclude pip --exclude setuptools --exclude wheel --exclude torch --exclude simplechat 2>/dev/null; } \
		> constraints.txt.new && mv constraints.txt.new constraints.txt

.PHONY: models
models: $(VENV)/.installed-run ## Build the offline models into models/ with training/ (cached outside the clone; FORCE=1 retrains)
	PYTHON=$(PY) scripts/build-models.sh extractor chatbot

.PHONY: run
run: models ## Serve both models and the UI on http://127.0.0.1:8080 (PORT=... to change)
	$(PY) -m predictors --models models --host 127.0.0.1 --http_port $(PORT)

.PHONY: run-nginx
run-nginx: models system-deps ## The standalone predictors behind real nginx, as in the cluster (PORT=8080)
	PORT=$(PORT) PYTHON=$(PY) scripts/run-nginx.sh

.PHONY: images
images: ## Build the chatbot, extractor and ui images with docker or podman (scripts/build-images.sh --help)
	scripts/build-images.sh

.PHONY: images-test
images-test: install models ## Build the images here (podman, local bases), run each container, print sizes and times to ready
	$(PY) -m pytest tests/images $(PYTEST_ARGS)

.PHONY: manifests
manifests: ## Re-render manifests/ from the Helm chart (a test fails when they differ)
	PYTHON=$(PY) scripts/render-manifests.sh

.PHONY: bench
bench: install models ## Serving benchmark: raw, unbatched, batched, Ray Serve, tutorial app (bench/README.md)
	$(PY) bench/run.py

.PHONY: system-deps
system-deps: ## Install the Debian packages the tests drive (nginx, chromium, envsubst) when missing
	scripts/install-system-deps.sh

.PHONY: chat
chat: models ## Chat with the offline chatbot in the terminal (no server)
	$(PY) -m predictors.chatbot.repl --model_dir models/chatbot

.PHONY: lint
lint: install ## ruff check and ruff format --check
	$(VENV)/bin/ruff check predictors training tests bench
	$(VENV)/bin/ruff format --check predictors training tests bench

.PHONY: audit
audit: install ## bandit on predictors/ and training/, and every installed dependency pinned in constraints.txt (not in make test)
	PYTHON=$(PY) TORCH_SPEC='$(TORCH_SPEC)' scripts/audit.sh

.PHONY: test
test: install models lint system-deps ## Run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

# The everyday loop: no apt packages, no images, no browser, no training beyond the cached models.
FAST_MARKERS := not slow and not system and not browser and not images and not e2e

.PHONY: test-fast
test-fast: install models lint ## The fast loop (a few minutes): everything but training, nginx, the browser and images
	$(PY) -m pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

.PHONY: clean
clean: ## Remove the venv, built models and caches in the clone
	rm -rf $(VENV) models .pytest_cache .ruff_cache test-output
