# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo lint audit bench bench-failover bench-fuzz bench-chaos bench-replay bench-tenants clean

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The whole suite: unit tests, then integration tests on a real Kafka broker and the two sandboxes.
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

# Broker, both sandboxes with the demo data, pollers, worker; prints the transfer log; Ctrl-C stops.
demo: $(STAMP)
	$(VENV)/bin/sevpro demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy foundation registry sevpro schemas streams projections connectors sandbox console contract

# Known vulnerabilities in the pinned dependencies (pip-audit on constraints.txt).
audit: $(STAMP)
	$(PY) .ci/audit_dependencies.py

bench: $(STAMP)
	$(PY) benchmarks/sales_invoice_drain.py

bench-failover: $(STAMP)
	$(PY) benchmarks/failover.py

bench-fuzz: $(STAMP)
	$(PY) benchmarks/fuzz_transfers.py

bench-chaos: $(STAMP)
	$(PY) benchmarks/chaos.py

bench-replay: $(STAMP)
	$(PY) benchmarks/replay.py

bench-tenants: $(STAMP)
	$(PY) benchmarks/tenants.py

clean:
	rm -rf $(VENV) .sevpro
