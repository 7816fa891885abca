# The two set-up commands are `make run` and `make test`; everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
M2_REPO ?= $(CURDIR)/build/m2

.PHONY: run test test-fast lint fmt bench bench-smoke chaos soak system-deps clean scale fuzz fuzz-handlers go-clients kafka-tools test-deps java-driver

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml setup.py src/brook/records/_fastscan.c | $(BIN)/python
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
	dpkg -s golang-github-shopify-sarama-dev >/dev/null 2>&1 || missing="$$missing golang-github-shopify-sarama-dev"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

# kafkajs, a Node.js client, is tested too (npm registry; package-lock pins it).
tests/clients/node_modules/.installed: tests/clients/package.json tests/clients/package-lock.json
	cd tests/clients && npm ci --silent --no-audit --no-fund
	touch $@

# Go clients (tests/clients/test_go_clients.py): franz-go and IBM Sarama from the Go module proxy, pinned by
# tests/clients/go/go.sum, downloads and builds cached under build/go. Debian's Sarama 1.22 (the
# golang-github-shopify-sarama-dev package, installed by system-deps) is built in GOPATH mode against
# /usr/share/gocode, so its code and dependencies are Debian's (tests/clients/test_sarama_debian.py).
GOMODCACHE ?= $(CURDIR)/build/go/mod
GOCACHE ?= $(CURDIR)/build/go/cache
GO_BIN := build/go/bin
GO ?= $(or $(shell command -v go 2>/dev/null),/usr/local/go/bin/go)

$(GO_BIN)/brookgo: tests/clients/go/go.mod tests/clients/go/go.sum $(wildcard tests/clients/go/*.go)
	cd tests/clients/go && GOMODCACHE=$(GOMODCACHE) GOCACHE=$(GOCACHE) $(GO) build -modcacherw -o $(CURDIR)/$@ .

$(GO_BIN)/brookgo-debian: $(wildcard tests/clients/go-debian/*.go) | system-deps
	cd tests/clients/go-debian && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(GOCACHE) \
		CGO_CFLAGS="-O2 -g -Wno-deprecated-declarations" \
		$(GO) build -o $(CURDIR)/$@ .

go-clients: $(GO_BIN)/brookgo $(GO_BIN)/brookgo-debian

# The benchmark's native load generator for many producer connections (bench/go: franz-go, pinned by its go.sum);
# only `make bench` needs it.
$(GO_BIN)/brookbench: bench/go/go.mod bench/go/go.sum $(wildcard bench/go/*.go)
	cd bench/go && GOMODCACHE=$(GOMODCACHE) GOCACHE=$(GOCACHE) $(GO) build -modcacherw -o $(CURDIR)/$@ .

# Kafka's own scripts, Connect and Streams (Maven Central jars, cached in M2_REPO) for tests/tools: the build writes
# their runtime classpath to tests/kafka-tools/target/classpath.txt (the stamp) and compiles a Streams word count.
# Kafka 3.9's scripts too (tests/kafka-tools/kafka-3, classpath in its target/classpath.txt).
KAFKA_TOOLS_STAMP := tests/kafka-tools/target/classpath.txt
$(KAFKA_TOOLS_STAMP): tests/kafka-tools/pom.xml tests/kafka-tools/kafka-3/pom.xml \
		$(wildcard tests/kafka-tools/src/main/java/brook/*/*.java) | system-deps
	cd tests/kafka-tools/kafka-3 && mvn -q -B -Dmaven.repo.local=$(M2_REPO) package
	cd tests/kafka-tools && mvn -q -B -Dmaven.repo.local=$(M2_REPO) package
	touch $@

kafka-tools: $(KAFKA_TOOLS_STAMP)

# The Java client (org.apache.kafka:kafka-clients, newest 4.x and 3.x) is tested through tests/java's driver, built
# by Maven once per client version into build/java/<version>/ (its jar and a classpath file); downloads go to M2_REPO.
JAVA_CLIENT_VERSIONS := 4.4.0 3.9.2
JAVA_DRIVER_SOURCES := tests/java/pom.xml $(wildcard tests/java/src/main/java/brook/driver/*.java)

build/java/%/.built: $(JAVA_DRIVER_SOURCES) | $(KAFKA_TOOLS_STAMP)
	mvn -q -B -Dstyle.color=never -Dmaven.repo.local=$(M2_REPO) -f tests/java/pom.xml -Dkafka.version=$* \
		-Ddriver.dir=$(CURDIR)/build/java/$* package
	touch $@

# one Maven build at a time in M2_REPO
build/java/3.9.2/.built: | build/java/4.4.0/.built

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

# What the suite needs, built side by side (downloads dominate a fresh clone; the two Maven builds share
# M2_REPO, so the Java driver waits for Kafka's tools).
test-deps: system-deps $(TEST_STAMP) tests/clients/node_modules/.installed go-clients $(KAFKA_TOOLS_STAMP) java-driver

# The suite runs on PYTEST_WORKERS processes, one test file at a time on each (a file's module-scoped brokers
# stay in one process). Bytecode is written first: with PYTHONDONTWRITEBYTECODE set, every broker the suite
# starts (hundreds) would otherwise compile brook's sources again.
PYTEST_WORKERS ?= 2
test:
	$(MAKE) -j4 test-deps
	$(MAKE) lint
	$(BIN)/python -m compileall -q src tests bench > /dev/null
	$(BIN)/pytest -q -ra -n $(PYTEST_WORKERS) --dist loadfile tests
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

# The same for the handlers (tests/fuzz/fuzz_handlers.py): decoded requests run against an in-process broker.
fuzz-handlers: $(TEST_STAMP)
	mkdir -p .fuzz/handler_corpus
	$(BIN)/python tests/fuzz/fuzz_handlers.py .fuzz/handler_corpus tests/fuzz/handler_corpus tests/fuzz/regressions tests/fuzz/corpus \
		-max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 -artifact_prefix=.fuzz/handler-crash-

# Apache Kafka itself, the benchmark's peer, and its perf-test tools: Maven Central jars (bench/kafka/pom.xml) copied
# into build/bench-kafka/lib, downloads cached in M2_REPO. Only `make bench` needs them, never `make test`.
BENCH_KAFKA_STAMP := build/bench-kafka/.built
$(BENCH_KAFKA_STAMP): bench/kafka/pom.xml | system-deps
	rm -rf build/bench-kafka/lib
	mvn -q -B -Dstyle.color=never -Dmaven.repo.local=$(M2_REPO) -f bench/kafka/pom.xml \
		-Dlib.dir=$(CURDIR)/build/bench-kafka/lib package
	touch $@

# One directory per `make bench` run: run.py, cluster_bench.py, scale_bench.py and security_bench.py write
# run.json, cluster.json, scale.json and security.json there; bench/targets.py prints issue 17's targets from
# them, last (and writes them as Markdown to targets.md).
ifndef BENCH_RUN_DIR
BENCH_RUN_DIR := bench/results/$(shell date -u +%Y%m%d-%H%M%S)
endif

# The interleaved brook/Kafka/Tansu rounds, then 3 replicating brokers, then the wide workloads (bench/README.md).
bench: $(TEST_STAMP) $(BENCH_KAFKA_STAMP) $(GO_BIN)/brookbench system-deps
	mkdir -p $(BENCH_RUN_DIR)
	BENCH_RUN_DIR=$(BENCH_RUN_DIR) $(BIN)/python bench/run.py $(BENCH_ARGS)
	BENCH_RUN_DIR=$(BENCH_RUN_DIR) $(BIN)/python bench/cluster_bench.py $(BENCH_CLUSTER_ARGS)
	BENCH_RUN_DIR=$(BENCH_RUN_DIR) $(BIN)/python bench/scale_bench.py $(BENCH_SCALE_ARGS)
	BENCH_RUN_DIR=$(BENCH_RUN_DIR) $(BIN)/python bench/security_bench.py
	$(BIN)/python bench/scram_auth_bench.py
	$(BIN)/python bench/tls_write_bench.py
	$(BIN)/python bench/console_bench.py
	$(BIN)/python bench/targets.py --markdown $(BENCH_RUN_DIR) > $(BENCH_RUN_DIR)/targets.md
	$(BIN)/python bench/targets.py $(BENCH_RUN_DIR)

bench-smoke: $(TEST_STAMP)
	$(BIN)/python bench/run.py --smoke
	$(BIN)/python bench/security_bench.py --smoke

# Randomized fault injection on a 3-broker cluster (not part of `make test`): kill -9, SIGTERM, SIGSTOP, ZooKeeper
# paused past the session timeout, network partitions, under idempotent producers and a committing group; exits 1 on
# any lost, duplicated, reordered or inconsistent record, committed-offset regression or broker exit.
# make chaos CHAOS_ARGS="--seed 7 --duration 120 --interval 5"
CHAOS_ARGS ?= --duration 120 --interval 5
chaos: system-deps $(TEST_STAMP)
	$(BIN)/python -m tests.chaos.run $(CHAOS_ARGS)

# Soak tests: minutes of repeated faults under transactions (pytest -m soak), not part of `make test`.
soak: system-deps $(TEST_STAMP)
	$(BIN)/pytest -q -ra -m soak tests/cluster

clean:
	rm -rf $(VENV) data .fuzz
