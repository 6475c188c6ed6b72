# The two commands of the README: `make demo` and `make test`.
# Each creates .venv if missing and installs what it needs into it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
DEMO   := demo-out

.PHONY: demo test venv install install-test clean chromium js-clients

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/activate
	$(PIP) install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(PY) -m samples.generate --mixed --out samples/generated --events 2000 --seed 7
	rm -rf $(DEMO)
	$(VENV)/bin/phiscan scan samples/generated --out $(DEMO)
	$(VENV)/bin/phiscan eval samples/generated/labels.jsonl $(DEMO) --by-source
	$(VENV)/bin/phiscan query --out $(DEMO) "SELECT route, entity_type, count(*) AS findings, count(DISTINCT fingerprint) AS distinct_values FROM findings GROUP BY ALL ORDER BY findings DESC LIMIT 15"

test: install-test chromium js-clients
	$(PY) -m pytest -q

# The Node client tests drive @sentry/node, posthog-node and @segment/analytics-node (pinned in
# tests/js/package.json) against phiscan; installed from the npm registry when npm is there.
js-clients: $(VENV)/js/.installed

$(VENV)/js/.installed: tests/js/package.json | $(VENV)/bin/activate
	@if command -v npm >/dev/null 2>&1; then \
	  mkdir -p $(VENV)/js && cp tests/js/package.json $(VENV)/js/ && \
	  npm install --prefix $(VENV)/js --no-audit --no-fund --loglevel=error >/dev/null && touch $@ || \
	  echo "the Node clients could not be installed: their tests will be skipped"; \
	else echo "npm is not installed: the Node client tests will be skipped"; fi

# The report test renders the HTML page in Debian's headless Chromium; installed when we can.
chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium could not be installed: the report screenshot test will be skipped"

clean:
	rm -rf $(VENV) $(DEMO) samples/generated .pytest_cache
