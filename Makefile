# Makefile - a thin layer over CMake, as neovim's is: every target below is
# one or two CMake/CTest commands, so CMakeLists.txt stays the one build.
#
#   make run      install deps (root, Debian 12), build, run the demo: PostgreSQL ->
#                 sluice run (broker, registry, worker) -> a file:// lake (scripts/demo.sh)
#   make test     install deps, build, run every test (unit + integration)
#   make unit     unit tests only           make asan    unit tests under ASan/UBSan
#   make bench    benchmarks                make format  clang-format every .c/.h
#
# WERROR=ON turns warnings into errors; it defaults to ON when $CI is set.

ifdef CI
WERROR ?= ON
else
WERROR ?= OFF
endif
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
MAKEFLAGS += --no-print-directory

.PHONY: all deps configure build run test unit bench asan format clean

all: build

deps:
	scripts/install-deps.sh

configure: deps
	cmake -B build -DSLUICE_WERROR=$(WERROR) $(CMAKE_FLAGS)

build: configure
	cmake --build build -j$(JOBS)

run: build
	scripts/demo.sh

test: build
	cd build && ctest --output-on-failure --timeout 900 -j1

unit: build
	cd build && ctest --output-on-failure --timeout 900 -j1 -L unit

bench: build
	@if [ -f tests/bench/run.sh ]; then \
		bash tests/bench/run.sh; \
	else \
		echo "make bench: no tests/bench/run.sh yet, nothing to run"; \
	fi

asan: deps
	cmake -B build-asan -DSLUICE_SANITIZE=ON -DSLUICE_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure --timeout 900 -j1 -L unit

format:
	@command -v clang-format >/dev/null || \
		{ echo "make format: clang-format is not installed (apt-get install clang-format)"; exit 1; }
	find . \( -path ./node_modules -o -path './build*' -o -path ./.git \) -prune -o \
		\( -name '*.c' -o -name '*.h' \) -print | xargs -r clang-format -i

clean:
	rm -rf build build-asan
