GO ?= go
BIN := bin/ibctl
# The race detector needs cgo; use it where a C compiler is present.
RACE := $(shell command -v gcc >/dev/null 2>&1 && echo -race)

# staticcheck, pinned: make vet runs it (the go command fetches and builds
# it the first time).
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the man pages and
# the completions where man-db, bash-completion, zsh and fish look for them.
# Debian's zsh reads /usr/local/share/zsh/site-functions and, for packages,
# /usr/share/zsh/vendor-completions. Fish reads
# $(PREFIX)/share/fish/vendor_completions.d when XDG_DATA_DIRS lists
# $(PREFIX)/share (it always lists /usr/share).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/share/zsh/vendor-completions,$(PREFIX)/share/zsh/site-functions)
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

.PHONY: all build docs install uninstall test bench fuzz vet clean

all: build docs

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/ibctl

docs:
	$(GO) run ./cmd/gen-docs man completions

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/ibctl
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 completions/ibctl.bash $(DESTDIR)$(BASHCOMPDIR)/ibctl
	install -m 0644 completions/_ibctl $(DESTDIR)$(ZSHCOMPDIR)/_ibctl
	install -m 0644 completions/ibctl.fish $(DESTDIR)$(FISHCOMPDIR)/ibctl.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ibctl $(DESTDIR)$(BASHCOMPDIR)/ibctl $(DESTDIR)$(ZSHCOMPDIR)/_ibctl $(DESTDIR)$(FISHCOMPDIR)/ibctl.fish
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard man/*.8)))

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
