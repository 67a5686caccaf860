# tend — make help lists the targets.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)

GO        ?= go
BIN       ?= bin/tend
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
DEMO_ROOT ?= $(CURDIR)/demo-root
FUZZTIME  ?= 50000x
# staticcheck 2025.1.1 is module version v0.6.1
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.6.1

.DEFAULT_GOAL := help
.PHONY: help build deps test test-unit test-corpus demo bench bench-push lint package e2e-vm fuzz soak clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the static binary bin/tend
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tend

deps: ## install what the tests need (Debian, as root; does nothing when all is there)
	test/install-deps.sh

test: deps build ## every test: unit tests, then the differential corpus against ansible-playbook
	@rc=0; $(MAKE) --no-print-directory test-unit || rc=1; \
		$(MAKE) --no-print-directory test-corpus || rc=1; exit $$rc

test-unit: ## go test for every package except the corpus
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/test$$')

test-corpus: build ## the end-to-end tests in test/, incl. the differential corpus (ansible-playbook vs tend)
	@rm -f test/corpus-summary.txt; rc=0; TEND_BIN=$(CURDIR)/$(BIN) TEND_DIFF_SUMMARY=$(CURDIR)/test/corpus-summary.txt \
		$(GO) test -count=1 -timeout 60m ./test/... || rc=$$?; \
		cat test/corpus-summary.txt 2>/dev/null || true; exit $$rc

demo: build ## run tend on the example repo (playbooks/, inventory/), writing only under $(DEMO_ROOT)
	mkdir -p $(DEMO_ROOT)
	BIN=$(BIN) DEMO_ROOT=$(DEMO_ROOT) scripts/demo.sh

bench: build ## tend vs Ansible: 100-task playbook, packages, drift check, the ansible backend's overhead (tables with ratios)
	TEND_BIN=$(CURDIR)/$(BIN) bench/bench.sh
	TEND_BIN=$(CURDIR)/$(BIN) bench/system.sh
	TEND_BIN=$(CURDIR)/$(BIN) bench/drift.sh
	TEND_BIN=$(CURDIR)/$(BIN) bench/ansible-overhead.sh
	TEND_BIN=$(CURDIR)/$(BIN) bench/agent.sh

bench-push: build ## push mode: 20 sshd targets, 50 tasks, tend -f 20 vs ansible-playbook -f 20
	TEND_BIN=$(CURDIR)/$(BIN) bench/push.sh

lint: ## gofmt, go vet, and staticcheck when the Go proxy is reachable
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './vendor/*')); \
		if [ -n "$$out" ]; then echo "gofmt -w needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if $(GO) run $(STATICCHECK) -version >/dev/null 2>&1; then \
		echo "staticcheck ./..."; $(GO) run $(STATICCHECK) ./...; \
	else echo "staticcheck not reachable; ran go vet only"; fi

package: ## build the deb and rpm into dist/ (packaging/package.sh)
	@if [ -f packaging/package.sh ]; then sh packaging/package.sh; \
	else echo "packaging/package.sh does not exist yet"; exit 1; fi

e2e-vm: ## end-to-end test in a qemu VM: the .deb, cloud-init, systemd, the agent (test/vm/run.sh)
	test/vm/run.sh

fuzz: ## run every Go fuzz target for $(FUZZTIME) inputs each (test/fuzz.sh)
	test/fuzz.sh $(FUZZTIME)

soak: build ## the long reliability run: crash, fault, load and leak tests (test/soak.sh)
	BIN=$(BIN) test/soak.sh

clean: ## remove build and demo output
	rm -rf bin dist $(DEMO_ROOT) test/corpus-summary.txt
