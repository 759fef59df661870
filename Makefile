GO ?= go
BIN := bin/ibctl
# The race detector needs cgo; use it where a C compiler is present.
RACE := $(shell command -v gcc >/dev/null 2>&1 && echo -race)

# staticcheck, pinned: make vet runs it (the go command fetches and builds
# it the first time).
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build docs test bench fuzz vet clean

all: build docs

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/ibctl

docs:
	$(GO) run ./cmd/gen-docs man completions

vet:
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

test: vet
	$(GO) test $(RACE) -count=1 ./...

# Micro-benchmarks run for the default time; the end-to-end ones (whole
# processes, 4096-child batches) once each.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./driver/... ./netlinkx/... ./sysfs/... ./ibctl/...
	$(GO) test -run '^$$' -bench . -benchtime 1x ./e2e

# Every fuzz target of every package, FUZZTIME each.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
