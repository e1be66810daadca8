# The two commands of the README: `make run` and `make test`. Everything else is a helper.
BUILD       ?= build
ASAN_BUILD  ?= build/asan
JOBS        ?= $(shell nproc)
CMAKE_FLAGS  = -G Ninja $(shell command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

.PHONY: deps build run test test-fast bench clean format

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Release -DOMS_TESTS=OFF

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target oms

run: build
	$(BUILD)/oms run --data-dir data

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DOMS_SANITIZE=ON -DOMS_TESTS=ON

# Every test (unit + integration) under AddressSanitizer and UndefinedBehaviorSanitizer.
test: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j 2

# The fast part: unit tests only.
test-fast: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -L unit

bench: build
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD)
