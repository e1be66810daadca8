# The two commands of the README: `make run` and `make test`. Everything else is a helper.
BUILD       ?= build
ASAN_BUILD  ?= build/asan
TSAN_BUILD  ?= build/tsan
FUZZ_BUILD  ?= build/fuzz
FUZZ_SECONDS ?= 60
JOBS        ?= $(shell nproc)
CMAKE_FLAGS  = -G Ninja $(shell command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

.PHONY: deps build run test test-fast bench fuzz clean format

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Release -DOMS_TESTS=OFF

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target oms

run: build
	@echo "OMS starting on http://localhost:$${OMS_PORT:-8080} (data in ./data; Ctrl-C stops it). Try (with port 8080):"
	@echo "  TOKEN=\$$(curl -s -X POST 'localhost:8080/auth/login?userId=alice' | python3 -c 'import sys,json;print(json.load(sys.stdin)[\"token\"])')"
	@echo "  curl -s -X POST localhost:8080/api/orders -H \"Authorization: Bearer \$$TOKEN\" -H 'Content-Type: application/json' -H 'Idempotency-Key: order-1' \\"
	@echo "       -d '{\"customerEmail\":\"alice@example.com\",\"items\":[{\"productId\":\"prod-101\",\"quantity\":2,\"price\":50.00}]}'"
	@echo "  curl -s localhost:8080/api/orders -H \"Authorization: Bearer \$$TOKEN\"     # see README.md for the full tour"
	@echo "Staff and admin log in with the operator password kept in $${OMS_DATA_DIR:-data}/admin.password (README.md)."
	$(BUILD)/oms run --host $${OMS_HOST:-127.0.0.1} --port $${OMS_PORT:-8080} --data-dir $${OMS_DATA_DIR:-data} --fault-injection

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug -DOMS_SANITIZE=ON -DOMS_TESTS=ON

$(TSAN_BUILD)/build.ninja:
	cmake -S . -B $(TSAN_BUILD) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMS_SANITIZE=thread -DOMS_TESTS=ON

# Every test (unit, db, integration in both modes, cluster) under AddressSanitizer and
# UndefinedBehaviorSanitizer; then under ThreadSanitizer the unit, db and embedded integration
# tests and the cluster failover test (tests/CMakeLists.txt).
test: deps $(ASAN_BUILD)/build.ninja $(TSAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j 2
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && ctest --output-on-failure -j 2

# The fast part: unit tests only.
test-fast: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -L unit

$(FUZZ_BUILD)/build.ninja:
	cmake -S . -B $(FUZZ_BUILD) $(CMAKE_FLAGS) -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DOMS_FUZZ=ON -DOMS_TESTS=OFF

# Each libFuzzer target for FUZZ_SECONDS (60) from its corpus; new inputs go to build/fuzz/corpus,
# findings (crash-*, leak-*, timeout-*) to build/fuzz/findings. docs/VERIFICATION.md has the runs.
fuzz:
	@bash scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	@bash scripts/deps.sh bench
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD)
