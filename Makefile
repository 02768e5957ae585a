# keyferry: the two commands a newcomer runs are `make demo` and `make test`.
# Both install what is missing (scripts/setup.sh, Debian 12), configure and build first.
BUILD      ?= build
FUZZ_BUILD ?= build-fuzz
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKF_WERROR=ON

.PHONY: all setup configure build test unit integration format format-check fuzz-build asan demo bench clean \
        dashboard-screenshot

all: build

setup:
	@bash scripts/setup.sh

# The clang fuzz build is configured only when clang++ is present; its targets then run
# briefly under ctest (label "fuzz").
fuzz-build: setup
	@if command -v clang++ >/dev/null 2>&1; then \
	  cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DKF_FUZZ=ON \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && \
	  cmake --build $(FUZZ_BUILD) -j$(JOBS); \
	else echo "clang++ not found: fuzz targets are not built"; fi

configure: setup fuzz-build
	@fuzzdir=""; [ -d $(FUZZ_BUILD)/tests/fuzz ] && fuzzdir=$(abspath $(FUZZ_BUILD)); \
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DKF_FUZZ_DIR=$$fuzzdir >/dev/null

build: configure
	cmake --build $(BUILD) -j$(JOBS)

format-check:
	@files=$$(git ls-files '*.h' '*.cc'); \
	if [ -n "$$files" ]; then clang-format --dry-run -Werror $$files; fi

format:
	@git ls-files '*.h' '*.cc' | xargs -r clang-format -i

test: build format-check
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -L unit

integration: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -L integration

asan: setup
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKF_SANITIZE=ON -DKF_BUILD_BENCH=OFF >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS) -L unit

demo: build
	BUILD=$(BUILD) bash scripts/demo.sh

# Runs the dashboard's browser test and keeps its screenshot as docs/dashboard.png (the
# charts get 15 s of samples first).
dashboard-screenshot: build
	KEYFERRY_UPDATE_SCREENSHOT=1 KEYFERRY_SCREENSHOT_WAIT_MS=15000 \
	  $(BUILD)/tests/kf_integration_tests --gtest_filter='DashboardBrowserTest.*'

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(ASAN_BUILD)
