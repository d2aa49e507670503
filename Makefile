# Two entry points: `make demo` and `make test`. Both create .venv/ first if needed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: install test demo bench clean chromium

install: $(STAMP)

# torch is pinned to the CPU build first: an open-ended torch requirement would fetch a CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
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
