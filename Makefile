# docker-stateful: `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
# BIN is what docker execs: a small front (standard library only) that
# answers metadata and completion itself; FULL_BIN, next to it, is the plugin.
BIN := bin/docker-stateful
FULL_BIN := bin/docker-stateful.d/docker-stateful
NAME := docker-stateful
PKG := github.com/docker-stateful/docker-stateful
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(PKG)/plugin/version.Version=$(VERSION) -X $(PKG)/plugin/version.Commit=$(COMMIT)
E2E_TIMEOUT ?= 60m

.PHONY: check-links bench-move bench-completion bench-help bench-ls bench-update docs check-docs help build test unit e2e images images-background deps lint install uninstall demo bench completion check-completion clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

build: ## build bin/docker-stateful and bin/docker-stateful.d/docker-stateful (static, -trimpath, version from git)
	@echo "==> building $(BIN) and $(FULL_BIN) $(VERSION)"
	@mkdir -p $(dir $(FULL_BIN))
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(FULL_BIN) ./cmd/docker-stateful-full
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/docker-stateful

# make release: both binaries for every platform, static (CGO_ENABLED=0),
# one archive per platform (.zip for windows, binaries named .exe there),
# and SHA256SUMS, in $(DIST)/. hack/archive packs them reproducibly.
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
DIST ?= dist
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
.PHONY: release
release: ## static binaries for linux, darwin, windows x amd64, arm64: archives and SHA256SUMS in dist/
	@echo "==> release $(VERSION) in $(DIST)/: $(RELEASE_PLATFORMS)"
	@rm -rf $(DIST) && mkdir -p $(DIST)/.stage
	@$(GO) build -o $(DIST)/.stage/archive ./hack/archive
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; fmt=tar.gz; \
		if [ "$$os" = windows ]; then ext=.exe; fmt=zip; fi; \
		name=$(NAME)_$(VERSION)_$${os}_$${arch}; dir=$(DIST)/.stage/$$name; \
		mkdir -p $$dir/$(NAME).d; \
		GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$dir/$(NAME).d/$(NAME)$$ext ./cmd/docker-stateful-full; \
		GOOS=$$os GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$dir/$(NAME)$$ext ./cmd/docker-stateful; \
		cp README.md install.sh $$dir/; \
		SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(DIST)/.stage/archive $(DIST)/$$name.$$fmt $$dir; \
		echo "   $(DIST)/$$name.$$fmt"; \
	done
	@$(DIST)/.stage/archive -sums $(DIST)
	@rm -rf $(DIST)/.stage
	@echo "   $(DIST)/SHA256SUMS"

deps: ## install what the tests need (Debian packages; root)
	@echo "==> installing test dependencies"
	bash hack/install-deps.sh

test: deps images-background lint unit e2e ## everything CI runs: deps, lint, unit and end-to-end tests
	@echo "==> all tests passed"

unit: ## unit tests (no Docker engine needed; Redis tests use a local redis-server)
	@echo "==> unit tests"
	$(GO) test -count=1 ./cmd/... ./plugin/...
	$(MAKE) --no-print-directory fuzz

# Each fuzz target runs for a number of inputs, not a duration: with -fuzztime 10s Go
# 1.26 fails at the deadline on a loaded machine with a bare "context deadline exceeded"
# (golang/go#75804, fixed in 1.27). A fresh fuzz cache each run keeps the baseline to the
# committed seeds (testdata/fuzz, also run by the unit tests).
FUZZ_TARGETS ?= redisstate:FuzzParseURL:60000x redisstate:FuzzReadShard:10000x redisstate:FuzzSnapshotLoad:1000x \
	stateful:FuzzDataPathLabels:20000x stateful:FuzzResolvePin:20000x stateful:FuzzLabelParsers:20000x \
	redisbackup:FuzzVerifyFile:3000x rdbstream:FuzzParse:3000x
fuzz: ## fuzz --redis-url, the snapshot loader, the manifest records, --data, --pin, the label parsers and the backup file reader (FUZZ_TARGETS: package:target:count)
	@echo "==> fuzzing: $(FUZZ_TARGETS)"
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; tc=$${t#*:}; \
		$(GO) test -run '^$$' -fuzz "^$${tc%%:*}\$$" -fuzztime "$${tc##*:}" ./plugin/$$pkg -args -test.fuzzcachedir="$$tmp" || exit 1; \
	done

# The suite runs in lanes at the same time, each on swarms of its own (hack/e2e.sh): the
# full suite on E2E_ENGINE split in E2E_SHARDS lanes balanced by e2e/durations.txt, and a
# lane with the compatibility subsets of the other engine generations (E2E_COMPAT:
# ENGINE=REGEX words; default: create, the guard, update --verify, stack deploy, adopt,
# move, backup/restore, PostgreSQL, Valkey on 26.1; the CSI cluster volume on 28.x).
# E2E_COMPAT= skips them. The Debian 13 database images are built (or taken from the cache)
# in the background meanwhile.
E2E_ENGINE ?= 20
E2E_SHARDS ?= 3
E2E_IMAGES ?= redis8 valkey8 postgres17

e2e: build ## end-to-end tests on real 3-node swarms started by the harness, in parallel lanes: all on engine 20.10, subsets on 26.1 and 28.x (root)
	@echo "==> end-to-end tests (starts its own swarms; needs root)"
	@GO="$(GO)" BIN="$(BIN)" E2E_ENGINE="$(E2E_ENGINE)" E2E_SHARDS="$(E2E_SHARDS)" E2E_TIMEOUT="$(E2E_TIMEOUT)" E2E_IMAGES="$(E2E_IMAGES)" bash hack/e2e.sh

# The Debian 13 images take ~14 min to build on a machine without the cache (debootstrap is
# network-bound): make test starts their build right after deps, so that it overlaps lint
# and the unit tests; make e2e then finds them in the cache, or waits for the build (lock).
images-background:
	@[ "$$(id -u)" != 0 ] || { echo "==> building the Debian 13 test images in the background (log: /tmp/docker-stateful-images.log)"; \
		setsid nohup bash -c 'for n in $(E2E_IMAGES); do bash hack/db-image.sh $$n || exit 1; done' >/tmp/docker-stateful-images.log 2>&1 </dev/null & }

images: ## build (or find in the cache) the Debian 13 test images: redis:8, valkey/valkey:8, postgres:17 (root)
	@for n in $(E2E_IMAGES); do bash hack/db-image.sh $$n | head -1; done

lint: check-completion check-docs check-links ## gofmt check, go vet, dependency rules, completion scripts, docs/reference and the front's help pages up to date, links in README and docs/
	@echo "==> lint (gofmt, go vet)"
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	@echo "==> dependency rules (plugin/deps_test.go)"
	$(GO) test -count=1 ./plugin/

check-links: ## every relative link in README.md and docs/**/*.md resolves (file, and #anchor to a heading)
	@echo "==> checking links in README.md and docs/"
	$(GO) run ./hack/checklinks README.md docs

# completion/ holds what `docker-stateful completion SHELL` prints: cobra's
# scripts for the `docker` command, which ask `docker __complete …` and so
# complete docker stateful (docker 26+ forwards to the plugin) and every
# other docker command. Same as `docker completion SHELL` of the cobra in go.mod.
COMPLETION_DIR ?= completion
COMPLETION_SHELLS := bash/docker zsh/_docker fish/docker.fish powershell/docker.ps1

completion: ## regenerate the shell completion scripts in completion/
	@echo "==> generating completion scripts in $(COMPLETION_DIR)/"
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(GO) build -o "$$tmp/docker-stateful" ./cmd/docker-stateful-full && \
	for f in $(COMPLETION_SHELLS); do \
		mkdir -p "$(COMPLETION_DIR)/$${f%%/*}" && \
		env -u DOCKER_CLI_DISABLE_COMPLETION_DESCRIPTION DOCKER_CONFIG="$$tmp" \
			"$$tmp/docker-stateful" completion "$${f%%/*}" > "$(COMPLETION_DIR)/$$f" || exit 1; \
		echo "   $(COMPLETION_DIR)/$$f"; \
	done

check-completion: ## fail when completion/ is not what make completion generates
	@echo "==> checking completion/ is up to date"
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(MAKE) -s --no-print-directory completion COMPLETION_DIR="$$tmp" >/dev/null && \
	if ! diff -r -x README.md "$$tmp" completion >/dev/null; then \
		diff -ru -x README.md completion "$$tmp" | head -20; \
		echo "completion/ is stale: run make completion and commit it" >&2; exit 1; \
	fi

# docs/reference/docker_stateful_<verb>.md (cobra's Markdown) and the --help
# pages the front prints (plugin/front/help_gen.go) are generated from the
# cobra commands by cmd/gendocs, which walks them from the root: after adding
# or changing a command or flag, run make docs and commit the result.
DOCS_DIR ?= docs/reference
HELP_GEN ?= plugin/front/help_gen.go

docs: ## regenerate docs/reference and the front's help pages from the commands
	@echo "==> generating $(DOCS_DIR)/ and $(HELP_GEN)"
	$(GO) run ./cmd/gendocs -docs $(DOCS_DIR) -help $(HELP_GEN)

check-docs: ## fail when docs/reference or the front's help pages are not what make docs generates
	@echo "==> checking docs/reference and plugin/front/help_gen.go are up to date"
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(MAKE) -s --no-print-directory docs DOCS_DIR="$$tmp/reference" HELP_GEN="$$tmp/help_gen.go" >/dev/null && \
	if ! diff -r "$$tmp/reference" docs/reference >/dev/null || ! cmp -s "$$tmp/help_gen.go" plugin/front/help_gen.go; then \
		diff -ruN docs/reference "$$tmp/reference" | head -20; diff -u plugin/front/help_gen.go "$$tmp/help_gen.go" | head -20; \
		echo "docs/reference or plugin/front/help_gen.go is stale: run make docs and commit them" >&2; exit 1; \
	fi

install: build ## install the plugin for this user (~/.docker/cli-plugins)
	@echo "==> installing"
	./install.sh --binary $(BIN)

uninstall: ## remove the plugin installed by make install
	@echo "==> uninstalling"
	./install.sh --uninstall

demo: build ## replay the seed story on a throwaway swarm (root)
	@echo "==> demo: the seed, replayed"
	DST_PLUGIN_BINARY=$(CURDIR)/$(BIN) bash hack/demo.sh

bench: ## fingerprint, backup and restore throughput and memory against a local redis-server
	@echo "==> benchmarks"
	bash bench/run.sh
	bash bench/backup.sh

bench-update: build ## update --verify vs plain docker service update at 100k and 1M keys, on a harness swarm (root)
	@echo "==> update benchmark (starts its own swarm unless DST_CLUSTER_ENV; needs root)"
	set -o pipefail; DST_BENCH_UPDATE=1 DST_PLUGIN_BINARY=$(CURDIR)/$(BIN) $(GO) test -tags e2e -count=1 -timeout 60m -run '^TestBenchUpdate$$' -v ./e2e/ | grep -E '^(bench-update|[0-9]+k keys|\||\(|---|ok|FAIL|PASS)'

bench-move: build ## move write downtime, copy vs replication, at 100k and 1M keys with a writer, on a harness swarm (root)
	@echo "==> move benchmark (starts its own swarm unless DST_CLUSTER_ENV; needs root)"
	bash bench/move.sh

bench-completion: build ## TAB latency: docker __complete stateful update vs service update, on a harness swarm (root)
	@echo "==> completion benchmark (starts its own swarm; needs root)"
	DST_PLUGIN_BINARY=$(CURDIR)/$(BIN) $(GO) test -tags e2e -run '^$$' -bench Completion -benchtime 100x -count 3 ./e2e/

bench-help: build ## help latency: docker stateful --help vs docker service --help (docker CLI, no daemon)
	@echo "==> help benchmark"
	DST_PLUGIN_BINARY=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench Help -benchtime 100x -count 3 ./plugin/front/
bench-ls: build ## docker stateful ls/check on 200 services vs docker service ls (root; DST_CLUSTER_ENV=<a harness env file>)
	@echo "==> ls benchmark on the swarm of $(DST_CLUSTER_ENV)"
	bash bench/ls.sh

clean: ## remove build output
	rm -rf bin dist
