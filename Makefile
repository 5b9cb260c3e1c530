# The README's two commands: `make run` and `make test`. Everything else is a helper.
BUILD      ?= build
BUILD_SAN  ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?= --output-on-failure -j $(JOBS)

PREFIX     ?= /usr/local

.PHONY: run test test-fast test-sanitize test-fuzz deps build build-sanitize bench install clean

deps:
	@bash scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(BUILD_SAN)/CMakeCache.txt:
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DSS_SANITIZE=ON

build-sanitize: deps $(BUILD_SAN)/CMakeCache.txt
	cmake --build $(BUILD_SAN) -j $(JOBS)

# Main job on the built-in default: the paper's Figure-4 experiment.
run: build
	@bash scripts/run-default $(BUILD)

test-fast: build
	cd $(BUILD) && ctest $(CTEST_ARGS)

test-sanitize: build-sanitize
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_ARGS)

# libFuzzer targets (clang): replay fuzz/corpus/, then fuzz each target for a bounded time
# (SS_FUZZ_SECONDS per target, default 20; SS_FUZZ_TOTAL_SECONDS caps the sum, default 120).
test-fuzz: deps
	@JOBS=$(JOBS) bash scripts/fuzz

# Whole suite: Release build, the same suite under ASan+UBSan, then the fuzz targets.
test: test-fast test-sanitize test-fuzz

# The CLI, libscansnap.so, <scansnap.h>, scansnap.pc, the configs and the Python package
# under PREFIX (README, "Using scansnap from programs"); `make install PREFIX=/tmp/x`.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	@bash bench/run-all $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_SAN) build-fuzz
