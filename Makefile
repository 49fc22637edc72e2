# The README's two commands: `make run` starts the survey app, `make test` runs the tests.
# Each sets up everything it needs on a fresh machine first.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=

.PHONY: run test setup-app setup-test wordnet lint clean screenshots

$(VENV)/.app-installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[app]'
	touch $@

$(VENV)/.test-installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[app,train,test,discover,export,demo]'
	touch $@ $(VENV)/.app-installed

setup-app: $(VENV)/.app-installed
	sh scripts/system-deps.sh wordnet
	$(PY) -m clustering wordnet

setup-test: $(VENV)/.test-installed
	sh scripts/system-deps.sh wordnet chromium nginx
	$(PY) -m clustering wordnet

run: setup-app
	$(VENV)/bin/flask --app survey_app setup
	$(VENV)/bin/flask --app survey_app run --host $(HOST) --port $(PORT)

test: setup-test
	$(PY) -m pytest $(PYTEST_ARGS)

# The README's pictures: the browser tests that take them write into docs/screenshots/
# (`make test` writes them to a temporary folder, so it leaves the tree as it was).
screenshots: setup-test
	CIL_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/survey_app/test_pages.py \
		tests/survey_app/test_demo_browser.py -k "fits_both_widths or settle_forms or classifies_an_upload"
	$(PY) scripts/palette_png.py docs/screenshots/*.png

# The whole tree: ruff's rules, and ruff's formatting (`ruff format .` applies it).
lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) instance/*.sqlite3 instance/thumbnails
