# The two set-up commands are `make run` and `make test`; everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast lint fmt bench bench-smoke chaos system-deps clean scale fuzz java-driver

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/brook serve --config config/server.properties

# Debian's kcat is used by the integration tests as an independent librdkafka client; Debian's zookeeper
# (3.8, needs Java) by the ZooKeeper metadata store's tests. One apt-get update, only when something is missing.
system-deps:
	@missing=""; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	dpkg -s zookeeper >/dev/null 2>&1 || missing="$$missing zookeeper"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

# kafkajs, a Node.js client, is tested too (npm registry; package-lock pins it).
tests/clients/node_modules/.installed: tests/clients/package.json tests/clients/package-lock.json
	cd tests/clients && npm ci --silent --no-audit --no-fund
	touch $@

# The Java client (org.apache.kafka:kafka-clients, newest 4.x and 3.x) is tested through tests/java's driver, built
# by Maven once per client version into build/java/<version>/ (its jar and a classpath file); downloads go to M2_REPO.
M2_REPO ?= $(CURDIR)/build/m2
JAVA_CLIENT_VERSIONS := 4.4.0 3.9.2
JAVA_DRIVER_SOURCES := tests/java/pom.xml $(wildcard tests/java/src/main/java/brook/driver/*.java)

build/java/%/.built: $(JAVA_DRIVER_SOURCES)
	mvn -q -B -Dstyle.color=never -Dmaven.repo.local=$(M2_REPO) -f tests/java/pom.xml -Dkafka.version=$* \
		-Ddriver.dir=$(CURDIR)/build/java/$* package
	touch $@

java-driver: $(foreach version,$(JAVA_CLIENT_VERSIONS),build/java/$(version)/.built)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/brook
	$(BIN)/lint-imports

fmt: $(TEST_STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test-fast: $(TEST_STAMP)
	$(BIN)/pytest -q tests/unit tests/contract tests/property

test: system-deps $(TEST_STAMP) tests/clients/node_modules/.installed java-driver
	$(MAKE) lint
	$(BIN)/pytest -q -ra tests
	$(MAKE) bench-smoke


# Full-size runs kept out of `make test` (minutes): 10,000 partitions on one broker.
scale: $(TEST_STAMP)
	$(BIN)/pytest -q -ra -s -m scale tests/integration/test_many_partitions.py

# Coverage-guided fuzzing of the request decoder (atheris): FUZZ_SECONDS long, new inputs kept in
# .fuzz/corpus, crashes written as .fuzz/crash-*. `make test` runs a few seconds of it (tests/fuzz).
FUZZ_SECONDS ?= 600
fuzz: $(TEST_STAMP)
	mkdir -p .fuzz/corpus
	$(BIN)/python tests/fuzz/fuzz_requests.py .fuzz/corpus tests/fuzz/corpus \
		-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=.fuzz/crash-

bench: $(TEST_STAMP)
	$(BIN)/python bench/run.py

bench-smoke: $(TEST_STAMP)
	$(BIN)/python bench/run.py --smoke

# Randomized fault injection on a 3-broker cluster (not part of `make test`): kill -9, SIGTERM, SIGSTOP, ZooKeeper
# paused past the session timeout, network partitions, under idempotent producers and a committing group; exits 1 on
# any lost, duplicated, reordered or inconsistent record, committed-offset regression or broker exit.
# make chaos CHAOS_ARGS="--seed 7 --duration 120 --interval 5"
CHAOS_ARGS ?= --duration 120 --interval 5
chaos: system-deps $(TEST_STAMP)
	$(BIN)/python -m tests.chaos.run $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) data .fuzz
