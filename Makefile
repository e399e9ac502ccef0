# jobq: build, run and test from a fresh Debian or Ubuntu machine with a Swift 6.2+ toolchain.
#
#   make run     install missing system packages, build, start jobqd in the foreground (Ctrl-C drains)
#   make test    install missing system packages, build, run the whole test suite
#   make bench   run the benchmarks (see Benchmarks/README.md)

SWIFT ?= swift
# Debian packages the build needs (libsqlite3-dev is for the durable job store), and those the
# tests drive the daemon with (curl, the sqlite3 shell, script(1) from util-linux, python3).
APT_PACKAGES := libsqlite3-dev pkg-config
TEST_PACKAGES := curl sqlite3 util-linux python3

.PHONY: all deps build run test test-tsan test-benchmarks bench clean

all: build

# Installs the packages of APT_PACKAGES that are missing, when it can (root, apt-get present);
# otherwise says which are missing and goes on: the build then says what it lacks.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES) $(if $(filter test test-tsan,$(MAKECMDGOALS)),$(TEST_PACKAGES)); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "missing system packages:$$missing (install them with: sudo apt-get install$$missing)"; \
	fi

build: deps
	$(SWIFT) build

# jobqd with its embedded defaults: state in /var/lib/jobq for root, else
# $XDG_STATE_HOME/jobq or ~/.local/state/jobq. Stop it with Ctrl-C (it drains running jobs).
run: build
	$(SWIFT) run jobqd

# The benchmark check runs first so that the test runner's summary is the last thing printed.
test: build test-benchmarks
	$(SWIFT) test

# The test suite under ThreadSanitizer (a separate build folder; not part of CI's run).
# tsan-suppressions.txt says which reports are known false positives, and why.
test-tsan: deps
	TSAN_OPTIONS="suppressions=$(CURDIR)/tsan-suppressions.txt" $(SWIFT) test --sanitize=thread --scratch-path .build-tsan

# The benchmark package must keep building, and its workloads must run to the end: a short
# run of each tool checks both (figures from such short runs mean nothing).
test-benchmarks:
	$(SWIFT) build -c release --package-path Benchmarks --product queue-throughput
	$(SWIFT) build -c release --package-path Benchmarks --product store-bench
	$(SWIFT) build -c release --package-path Benchmarks --product engine-bench
	$(SWIFT) build -c release --package-path Benchmarks --product api-bench
	Benchmarks/.build/release/queue-throughput --items 20000 --runs 1 --table
	Benchmarks/.build/release/store-bench --quick
	Benchmarks/.build/release/engine-bench --jobs 200
	Benchmarks/.build/release/api-bench --jobqd .build/debug/jobqd --jobs 2000 --clients 4 --batch 100

bench: deps
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark
	python3 Benchmarks/compare_asyncio.py
	$(SWIFT) build -c release --package-path Benchmarks --product store-bench
	Benchmarks/.build/release/store-bench
	Benchmarks/engine-vs-tsp.sh
	$(SWIFT) build -c release --product jobqd
	$(SWIFT) build -c release --product jobq --static-swift-stdlib
	$(SWIFT) build -c release --package-path Benchmarks --product api-bench
	Benchmarks/.build/release/api-bench --jobqd .build/release/jobqd --jobs 100000 --clients 32
	python3 Benchmarks/cli-vs-tsp.py --jobs 2000

clean:
	rm -rf .build Benchmarks/.build
