# Two entry points: `make demo` and `make test`. Both create .venv/ first if needed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: install test demo bench clean chromium

# Where torch comes from. A torch==$(TORCH_VERSION) wheel that pip finds without any index (a local
# wheelhouse: pip's find-links, e.g. PIP_FIND_LINKS) is used as it is. Otherwise torch is installed
# from TORCH_INDEX only, the CPU-only index by default: PyPI's Linux torch wheel is a CUDA build.
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cu126   # a CUDA build
#   make install TORCH_INDEX=                                         # whatever your pip config picks
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

install: $(STAMP)

# torch is installed first, pinned, from the source chosen above: the open-ended torch requirement
# of the package would otherwise let pip fetch PyPI's CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	if [ -z "$(TORCH_INDEX)" ] || $(BIN)/python -m pip install -q --dry-run --no-index --no-deps torch==$(TORCH_VERSION) >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install -q torch==$(TORCH_VERSION); \
	else \
	  $(BIN)/python -m pip install -q torch==$(TORCH_VERSION) --index-url $(TORCH_INDEX); \
	fi
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

# The studio's browser tests drive Debian's Chromium (Playwright's own browser download cannot work
# here). Installed when missing and run as root (CI); otherwise those tests fail and say how to install it.
chromium:
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 && apt-get update -qq && apt-get install -y -qq chromium; } \
	  || echo "warning: /usr/bin/chromium is missing; the browser tests in tests/studio will fail: apt-get install -y chromium"

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

clean:
	rm -rf $(VENV) demo_out
