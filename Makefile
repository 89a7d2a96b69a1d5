# docker-stateful: `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
# BIN is what docker execs: a small front (standard library only) that
# answers metadata and completion itself; FULL_BIN, next to it, is the plugin.
BIN := bin/docker-stateful
FULL_BIN := bin/docker-stateful.d/docker-stateful
PKG := github.com/docker-stateful/docker-stateful
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(PKG)/plugin/version.Version=$(VERSION) -X $(PKG)/plugin/version.Commit=$(COMMIT)
E2E_TIMEOUT ?= 60m

.PHONY: bench-completion help build test unit e2e deps lint install uninstall demo bench completion check-completion clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

build: ## build bin/docker-stateful and bin/docker-stateful.d/docker-stateful (static, -trimpath, version from git)
	@echo "==> building $(BIN) and $(FULL_BIN) $(VERSION)"
	@mkdir -p $(dir $(FULL_BIN))
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(FULL_BIN) ./cmd/docker-stateful-full
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/docker-stateful

deps: ## install what the tests need (Debian packages; root)
	@echo "==> installing test dependencies"
	bash hack/install-deps.sh

test: deps lint unit e2e ## everything CI runs: deps, lint, unit and end-to-end tests
	@echo "==> all tests passed"

unit: ## unit tests (no Docker engine needed; Redis tests use a local redis-server)
	@echo "==> unit tests"
	$(GO) test -count=1 ./cmd/... ./plugin/...
	$(MAKE) --no-print-directory fuzz

# Each fuzz target runs for a number of inputs, not a duration: with -fuzztime 10s Go
# 1.26 fails at the deadline on a loaded machine with a bare "context deadline exceeded"
# (golang/go#75804, fixed in 1.27). A fresh fuzz cache each run keeps the baseline to the
# committed seeds (testdata/fuzz, also run by the unit tests).
FUZZ_TARGETS ?= FuzzParseURL:60000x FuzzReadShard:10000x FuzzSnapshotLoad:1000x
fuzz: ## fuzz the --redis-url parser, the snapshot loader and the manifest records (FUZZ_TARGETS: target:count)
	@echo "==> fuzzing: $(FUZZ_TARGETS)"
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	for tc in $(FUZZ_TARGETS); do \
		$(GO) test -run '^$$' -fuzz "^$${tc%%:*}\$$" -fuzztime "$${tc##*:}" ./plugin/redisstate -args -test.fuzzcachedir="$$tmp" || exit 1; \
	done

e2e: build ## end-to-end tests on a real 3-node swarm started by the harness (root)
	@echo "==> end-to-end tests (starts its own swarm; needs root)"
	@[ "$$(id -u)" = 0 ] || { echo "make e2e needs root: it starts its own dockerd nodes in network namespaces" >&2; exit 1; }
	DST_PLUGIN_BINARY=$(CURDIR)/$(BIN) $(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v ./e2e/...

lint: check-completion ## gofmt check, go vet, completion scripts up to date
	@echo "==> lint (gofmt, go vet)"
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...

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

install: build ## install the plugin for this user (~/.docker/cli-plugins)
	@echo "==> installing"
	./install.sh --binary $(BIN)

uninstall: ## remove the plugin installed by make install
	@echo "==> uninstalling"
	./install.sh --uninstall

demo: build ## replay the seed story on a throwaway swarm (root)
	@echo "==> demo: the seed, replayed"
	DST_PLUGIN_BINARY=$(CURDIR)/$(BIN) bash hack/demo.sh

bench: ## fingerprint throughput and memory against a local redis-server
	@echo "==> benchmarks"
	bash bench/run.sh

bench-completion: build ## TAB latency: docker __complete stateful update vs service update, on a harness swarm (root)
	@echo "==> completion benchmark (starts its own swarm; needs root)"
	DST_PLUGIN_BINARY=$(CURDIR)/$(BIN) $(GO) test -tags e2e -run '^$$' -bench Completion -benchtime 100x -count 3 ./e2e/

clean: ## remove build output
	rm -rf bin
