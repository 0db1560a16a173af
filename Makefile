# intake: the robot clerk of a data-call mailbox.
#   make demo   the whole job on embedded defaults (in-process IMAP and SMTP, a SQLite file)
#   make test   every test; under CI=true the real servers and programs the tests need are installed first
#   make bench  the benchmarks, with the workbook reader's comparison table and the cost of `intake check`

GO      ?= go
BIN     := bin/intake
# go-sqlite3 needs cgo.
export CGO_ENABLED := 1

.PHONY: all build demo test test-deps unit fuzz bench vet clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/intake

demo: build
	./$(BIN) demo

test: test-deps vet unit fuzz

# Under CI=true, install Dovecot, Postfix, openpyxl, LibreOffice and Gnumeric
# from Debian's packages (outside CI the tests that need them skip, saying so).
test-deps:
	@if [ "$$CI" = "true" ]; then scripts/install-test-deps; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

# Short, bounded runs of every fuzz target (execution counts, see the script).
fuzz:
	scripts/fuzz-short

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@if [ -x scripts/bench-readers ]; then scripts/bench-readers; fi
	scripts/bench-check

clean:
	rm -rf bin
