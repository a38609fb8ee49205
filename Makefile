# Needs only python3 (3.11+) on the PATH: uv is bootstrapped into .tools/ (same on every
# machine, so CI exercises exactly what a new user runs). `make UV=uv test` uses your own.
UV ?= .tools/bin/uv

.PHONY: demo test setup bench clean

demo: setup  ## collect from the built-in Reddit simulator into ./lake and query it
	$(UV) run redditlake demo

test: setup  ## layer contracts (import-linter, pyproject.toml), then the whole test suite (starts its own simulator, S3 server and Prefect server)
	$(UV) run lint-imports --no-cache
	$(UV) run pytest -q

bench: setup  ## benchmarks/README.md explains the figures
	$(UV) run python -m benchmarks.collection

setup: $(UV)
	$(UV) sync --frozen --quiet

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

clean:
	rm -rf .venv .tools .pytest_cache   # never ./lake: it is the user's data, not a build product
