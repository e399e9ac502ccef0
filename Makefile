# jobq: build, run and test from a fresh Debian or Ubuntu machine with a Swift 6.2+ toolchain.
#
#   make run     install missing system packages, build, start jobqd in the foreground (Ctrl-C drains)
#   make test    install missing system packages, build, run the whole test suite
#   make bench   run the benchmarks (see Benchmarks/README.md)
#   make bench-peers  jobq beside task-spooler, nq, batch and beanstalkd (docs/performance.md)
#   make reliability  the long reliability runs (crash loop, power cut, fuzzing...; docs/reliability.md)
#   make install build in release mode and install binaries, systemd units, man pages and shell
#                completions under PREFIX (/usr/local), below DESTDIR when set; make uninstall

SWIFT ?= swift
# Builds go through scripts/retry-on-crash.sh: SwiftPM sometimes crashes on Linux while it builds.
SWIFT_BUILD := scripts/retry-on-crash.sh $(SWIFT) build
# Debian packages the build needs (libsqlite3-dev is for the durable job store), and those the
# tests drive the daemon with (curl, the sqlite3 shell, script(1) from util-linux, python3 and
# its venv for schemathesis, mkfs.ext4 and useradd for the reliability scripts, PostgreSQL for
# the PostgreSQL store's private test cluster, ip for the network namespaces of a node test).
APT_PACKAGES := libsqlite3-dev pkg-config
TEST_PACKAGES := curl sqlite3 util-linux python3 python3-venv e2fsprogs passwd systemd man-db postgresql iproute2 chromium chromium-driver

# make install: where things go. The unit files name $(BINDIR)/jobqd; DESTDIR only prefixes the
# files written, for packaging and for the tests (scripts/install-check.sh).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR := $(PREFIX)/bin
MANDIR := $(PREFIX)/share/man
# systemd, systemd-sysusers and systemd-tmpfiles look in /usr/local/lib/... as well as /usr/lib/...
SYSTEMDDIR := $(PREFIX)/lib/systemd
SYSUSERSDIR := $(PREFIX)/lib/sysusers.d
TMPFILESDIR := $(PREFIX)/lib/tmpfiles.d
BASHCOMPDIR := $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR := $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR := $(PREFIX)/share/fish/vendor_completions.d
# Release binaries with the Swift runtime and Foundation linked in: they need only glibc,
# libstdc++ and libsqlite3 at run time, so they run on a machine without a Swift toolchain.
RELEASE := -c release --static-swift-stdlib
# jobq itself (the quick submit path, no Foundation) as a static executable: it starts in about
# 1.3 ms instead of 3.5 ms. Its own build folder, because the flag applies to every module built.
STATIC_JOBQ := .build/static-jobq
# Generated man pages and completion scripts.
GENERATED := .build/generated
# What make install writes, relative to DESTDIR (make uninstall removes exactly these).
LIBEXECDIR := $(PREFIX)/libexec/jobq
INSTALLED := $(BINDIR)/jobq $(LIBEXECDIR)/jobq-cli $(BINDIR)/jobqd $(MANDIR)/man1/jobq.1 $(MANDIR)/man8/jobqd.8 \
	$(SYSTEMDDIR)/system/jobqd.service $(SYSTEMDDIR)/system/jobqd.socket \
	$(SYSTEMDDIR)/user/jobqd.service $(SYSTEMDDIR)/user/jobqd.socket \
	$(SYSUSERSDIR)/jobq.conf $(TMPFILESDIR)/jobq.conf \
	$(BASHCOMPDIR)/jobq $(ZSHCOMPDIR)/_jobq $(FISHCOMPDIR)/jobq.fish \
	$(PREFIX)/share/jobq/shared-machine.conf

.PHONY: all deps build run test test-python test-browser test-tsan test-benchmarks test-install reliability bench bench-peers clean release man completions install uninstall

all: build

# The Python client (clients/python) installed as a user would (pip install ./clients/python) in
# a venv of its own, and its pytest suite against the jobqd just built.
PYTHON_VENV ?= /var/cache/jobq-python/venv
test-python:
	@test -x $(PYTHON_VENV)/bin/pip || python3 -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/pip install -q --upgrade './clients/python[test]'
	cd clients/python && JOBQ_BIN=$(CURDIR)/.build/debug $(PYTHON_VENV)/bin/python -m pytest -q -p no:cacheprovider

# The web dashboard in a real browser: Debian's Chromium and chromium-driver, driven by Selenium
# from a venv of its own (Tests/Browser); screenshots of every view at both widths are left in
# .build/dashboard-screenshots.
BROWSER_VENV ?= /var/cache/jobq-browser/venv
test-browser:
	@test -x $(BROWSER_VENV)/bin/pip || python3 -m venv $(BROWSER_VENV)
	$(BROWSER_VENV)/bin/pip install -q --upgrade 'selenium>=4.20' 'pytest>=7'
	cd Tests/Browser && JOBQ_BIN=$(CURDIR)/.build/debug $(BROWSER_VENV)/bin/python -m pytest -q -p no:cacheprovider

# Installs the packages of APT_PACKAGES that are missing, when it can (root, apt-get present);
# otherwise says which are missing and goes on: the build then says what it lacks.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES) $(if $(filter test test-tsan reliability,$(MAKECMDGOALS)),$(TEST_PACKAGES)); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "missing system packages:$$missing (install them with: sudo apt-get install$$missing)"; \
	fi

build: deps
	$(SWIFT_BUILD)

# jobqd with its embedded defaults: state in /var/lib/jobq for root, else
# $XDG_STATE_HOME/jobq or ~/.local/state/jobq. Stop it with Ctrl-C (it drains running jobs).
run: build
	$(SWIFT) run jobqd

# The benchmark check runs first so that the test runner's summary is the last thing printed
# before the install and systemd checks (which print their own N passed, N failed). The Swift
# tests share one private PostgreSQL cluster (scripts/postgres-cluster.sh: initdb in a temporary
# directory, a Unix socket only, removed afterwards); nothing uses a system-wide cluster. The
# multi-node tests (three jobqd, 10,000 jobs) run alone, so that their load does not skew the
# others' timing; the daemon's integration tests then run again with every jobqd on a
# PostgreSQL store. A run that
# hangs is stopped (timeout, then SIGKILL 30 s later) and fails, rather than CI's whole budget.
test: build test-benchmarks
	$(SWIFT_BUILD) --build-tests
	scripts/postgres-cluster.sh run -- sh -c 'timeout -k 30 25m $(SWIFT) test --skip-build --skip MultiNodeTests && \
		timeout -k 30 10m $(SWIFT) test --skip-build --filter MultiNodeTests && \
		JOBQ_TEST_DAEMON_STORE=postgresql timeout -k 30 10m $(SWIFT) test --skip-build --filter JobDaemonTests \
			--skip MultiNodeTests'
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-browser
	scripts/reliability/run.sh --quick
	$(MAKE) --no-print-directory test-install
	Benchmarks/peers/run.sh --quick

# The long variants of the reliability suite on release binaries (docs/reliability.md).
reliability: deps
	$(SWIFT_BUILD) $(RELEASE) --product jobqd
	$(SWIFT_BUILD) $(RELEASE) --product jobq
	$(SWIFT_BUILD) $(RELEASE) --product jobq-cli
	JOBQ_BIN_DIR=$$($(SWIFT) build $(RELEASE) --show-bin-path) scripts/reliability/run.sh

# make install into temporary directories and the unit files checked (scripts/install-check.sh),
# then the units under a real systemd booted in a container (scripts/systemd-e2e.sh).
test-install:
	scripts/install-check.sh
	scripts/systemd-e2e.sh

# The test suite under ThreadSanitizer (a separate build folder; not part of CI's run).
# tsan-suppressions.txt says which reports are known false positives, and why.
test-tsan: deps
	TSAN_OPTIONS="suppressions=$(CURDIR)/tsan-suppressions.txt" $(SWIFT) test --sanitize=thread --scratch-path .build-tsan

# The benchmark package must keep building, and its workloads must run to the end: a short
# run of each tool checks both (figures from such short runs mean nothing).
test-benchmarks:
	$(SWIFT_BUILD) -c release --package-path Benchmarks --product queue-throughput
	$(SWIFT_BUILD) -c release --package-path Benchmarks --product store-bench
	$(SWIFT_BUILD) -c release --package-path Benchmarks --product engine-bench
	$(SWIFT_BUILD) -c release --package-path Benchmarks --product api-bench
	Benchmarks/.build/release/queue-throughput --items 20000 --runs 1 --table
	Benchmarks/.build/release/queue-throughput --items 20000 --runs 1 --table --executor single
	Benchmarks/.build/release/store-bench --quick
	Benchmarks/.build/release/engine-bench --jobs 200
	Benchmarks/.build/release/api-bench --jobqd .build/debug/jobqd --jobs 2000 --clients 4 --batch 100
	Benchmarks/api-load.sh --rounds 1 --seconds 1 .build/debug

bench: deps
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark
	python3 Benchmarks/compare_asyncio.py
	$(SWIFT_BUILD) -c release --package-path Benchmarks --product store-bench
	Benchmarks/.build/release/store-bench
	Benchmarks/engine-vs-tsp.sh
	$(MAKE) --no-print-directory release
	$(SWIFT_BUILD) -c release --package-path Benchmarks --product api-bench
	Benchmarks/.build/release/api-bench --jobqd .build/release/jobqd --jobs 100000 --clients 32
	python3 Benchmarks/cli-vs-tsp.py --jobs 2000 --jobq $(STATIC_JOBQ)/release/jobq

# jobq beside its peers, in one run (installs them when missing): the table of docs/performance.md.
bench-peers: deps
	Benchmarks/peers/run.sh

release: deps
	$(SWIFT_BUILD) $(RELEASE) --product jobqd
	$(SWIFT_BUILD) -c release --product jobq --scratch-path $(STATIC_JOBQ) -Xswiftc -static-executable
	$(SWIFT_BUILD) $(RELEASE) --product jobq-cli

# jobq(1) and jobqd(8) from the argument parser's definitions, by its generate-manual plugin
# (run on the debug build, whose help text is the release build's). The blank lines of the help
# texts' paragraphs become mdoc paragraph breaks (.Pp), which man renders without warnings.
man: deps
	$(SWIFT_BUILD) --product jobq-cli
	$(SWIFT_BUILD) --product jobqd
	$(SWIFT) package plugin generate-manual --configuration debug --section 1 --date $(MANDATE)
	mkdir -p $(GENERATED)
	sed 's/^$$/.Pp/' .build/plugins/GenerateManual/outputs/jobq-cli/jobq.1 > $(GENERATED)/jobq.1
	$(SWIFT) package plugin generate-manual --configuration debug --section 8 --date $(MANDATE)
	sed 's/^$$/.Pp/' .build/plugins/GenerateManual/outputs/jobqd/jobqd.8 > $(GENERATED)/jobqd.8

# The date printed in the man pages: the last commit's, so that the pages do not change daily.
MANDATE = $(shell git log -1 --format=%cs 2>/dev/null || date +%F)

completions: release
	mkdir -p $(GENERATED)
	.build/release/jobq-cli --generate-completion-script bash > $(GENERATED)/jobq.bash
	.build/release/jobq-cli --generate-completion-script zsh > $(GENERATED)/_jobq
	.build/release/jobq-cli --generate-completion-script fish > $(GENERATED)/jobq.fish

install: release man completions
	install -Dm755 $(STATIC_JOBQ)/release/jobq $(DESTDIR)$(BINDIR)/jobq
	install -Dm755 .build/release/jobq-cli $(DESTDIR)$(LIBEXECDIR)/jobq-cli
	install -Dm755 .build/release/jobqd $(DESTDIR)$(BINDIR)/jobqd
	install -Dm644 $(GENERATED)/jobq.1 $(DESTDIR)$(MANDIR)/man1/jobq.1
	install -Dm644 $(GENERATED)/jobqd.8 $(DESTDIR)$(MANDIR)/man8/jobqd.8
	for unit in jobqd.service jobqd.socket user/jobqd.service user/jobqd.socket; do \
		case $$unit in user/*) dir=user ;; *) dir=system ;; esac; \
		mkdir -p $(DESTDIR)$(SYSTEMDDIR)/$$dir && \
		sed 's|/usr/local/bin/jobqd|$(BINDIR)/jobqd|' systemd/$$unit > $(DESTDIR)$(SYSTEMDDIR)/$$dir/$${unit#user/} && \
		chmod 644 $(DESTDIR)$(SYSTEMDDIR)/$$dir/$${unit#user/} || exit 1; \
	done
	install -Dm644 systemd/sysusers.d/jobq.conf $(DESTDIR)$(SYSUSERSDIR)/jobq.conf
	install -Dm644 systemd/tmpfiles.d/jobq.conf $(DESTDIR)$(TMPFILESDIR)/jobq.conf
	install -Dm644 $(GENERATED)/jobq.bash $(DESTDIR)$(BASHCOMPDIR)/jobq
	install -Dm644 $(GENERATED)/_jobq $(DESTDIR)$(ZSHCOMPDIR)/_jobq
	install -Dm644 $(GENERATED)/jobq.fish $(DESTDIR)$(FISHCOMPDIR)/jobq.fish
	install -Dm644 systemd/shared-machine.conf $(DESTDIR)$(PREFIX)/share/jobq/shared-machine.conf

# Removes what make install wrote; the jobq account, /var/lib/jobq and its jobs stay.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(PREFIX)/share/jobq 2>/dev/null || true

clean:
	rm -rf .build Benchmarks/.build
