# anketa: build, test and run. `make run` and `make test` start by installing whatever
# Debian packages are missing (scripts/install-deps.sh), so a fresh machine needs nothing else.

CC       ?= cc
PKGS     := sqlite3 yaml-0.1 jansson libsodium
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
BASE_CFLAGS := -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) -Icore $(PKG_CFLAGS)
LIBS     := $(PKG_LIBS) -lfcgi

RELEASE_CFLAGS := -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
ASAN_CFLAGS    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                  -fno-sanitize-recover=undefined

CORE_SRC := $(sort $(wildcard core/*.c))
LIB_SRC  := $(filter-out core/main.c,$(CORE_SRC))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
INTEG_SRC := $(sort $(wildcard tests/integration/test_*.c))

REL_OBJ  := $(LIB_SRC:%.c=build/rel/%.o)
ASAN_OBJ := $(LIB_SRC:%.c=build/asan/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=build/asan/itests/%)

PORT ?= 8080

.PHONY: all deps run test unit integration clang-check format format-check clean
all: build/anketa

deps:
	@scripts/install-deps.sh

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(RELEASE_CFLAGS) -MMD -MP -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(ASAN_CFLAGS) -MMD -MP -c $< -o $@

build/anketa: $(REL_OBJ) build/rel/core/main.o
	$(CC) $(RELEASE_CFLAGS) -o $@ $^ $(LIBS)

build/asan/anketa: $(ASAN_OBJ) build/asan/core/main.o
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(LIBS)

build/asan/tests/%: tests/unit/%.c $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(ASAN_CFLAGS) -o $@ $< $(ASAN_OBJ) $(LIBS) $(shell pkg-config --libs cmocka)

build/asan/itests/%: tests/integration/%.c tests/integration/harness.c \
                    tests/integration/harness.h $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(ASAN_CFLAGS) -Itests/integration -o $@ $< \
	    tests/integration/harness.c $(ASAN_OBJ) $(LIBS) -lpthread \
	    $(shell pkg-config --libs cmocka libcurl)

# Sanitizer settings for every test process (and the server the integration tests start).
TEST_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

test: deps
	@$(MAKE) --no-print-directory clang-check format-check $(UNIT_BIN) build/asan/anketa $(INTEG_BIN)
	@$(TEST_ENV) ANKETA_BIN=build/asan/anketa ANKETA_ROOT=$(CURDIR) tests/run.sh $(UNIT_BIN) $(INTEG_BIN)

unit: $(UNIT_BIN)
	@$(TEST_ENV) tests/run.sh $(UNIT_BIN)

integration: build/asan/anketa $(INTEG_BIN)
	@$(TEST_ENV) ANKETA_BIN=build/asan/anketa ANKETA_ROOT=$(CURDIR) tests/run.sh $(INTEG_BIN)

# The code must build warning-free with clang as well as gcc.
clang-check:
	@echo "== clang -Werror build"
	@$(MAKE) --no-print-directory CC=clang build/clang/anketa

build/clang/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O2 -c $< -o $@

build/clang/anketa: $(LIB_SRC:%.c=build/clang/%.o) build/clang/core/main.o
	$(CC) -o $@ $^ $(LIBS)

FORMAT_FILES = $(wildcard core/*.[ch] tests/unit/*.c tests/integration/*.[ch] plugins/*/*.[ch])

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@echo "== clang-format check"
	@clang-format --dry-run --Werror $(FORMAT_FILES)

run: deps build/anketa
	@scripts/run.sh $(PORT)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
