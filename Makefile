# anketa: build, test and run. `make run` and `make test` start by installing whatever
# Debian packages are missing (scripts/install-deps.sh), so a fresh machine needs nothing else.

CC       ?= cc
PKGS     := sqlite3 yaml-0.1 jansson libsodium lua5.4
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
BASE_CFLAGS := -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) -Icore $(PKG_CFLAGS)
LIBS     := $(PKG_LIBS) -lfcgi -lm -ldl

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

# Plugins (docs/plugins.md): each plugins/<name>/ is one shared object, build/plugins/<name>.so,
# with an ASan twin in build/asan/plugins/ that the sanitized server of the tests loads. Test
# plugins (tests/plugins/<name>.c, one file each) exist only as ASan builds. A plugin compiles
# against core/plugin_api.h alone; PLUGIN_LIBS_<name> adds the libraries it links.
PLUGIN_NAMES := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard plugins/*/*.c)))))
REL_PLUGINS  := $(PLUGIN_NAMES:%=build/plugins/%.so)
ASAN_PLUGINS := $(PLUGIN_NAMES:%=build/asan/plugins/%.so)
CLANG_PLUGINS := $(PLUGIN_NAMES:%=build/clang/plugins/%.so)
TEST_PLUGINS := $(patsubst tests/plugins/%.c,build/asan/test-plugins/%.so,\
                  $(wildcard tests/plugins/*.c))
PLUGIN_CFLAGS = -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) -Icore -fPIC \
                -fvisibility=hidden $(PLUGIN_PKG_CFLAGS_$*)
PLUGIN_PKG_CFLAGS_xlsx := $(shell pkg-config --cflags zlib 2>/dev/null)
PLUGIN_LIBS_xlsx       := $(shell pkg-config --libs zlib 2>/dev/null) -lpthread

PORT ?= 8080

.PHONY: all deps run test unit integration clang-check js-test browser-test format format-check \
        clean bench
all: build/anketa $(REL_PLUGINS)

deps:
	@scripts/install-deps.sh

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(RELEASE_CFLAGS) -MMD -MP -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(ASAN_CFLAGS) -MMD -MP -c $< -o $@

# Full RELRO: the dynamic symbols are bound at start, and their table is then read-only.
build/anketa: $(REL_OBJ) build/rel/core/main.o
	$(CC) $(RELEASE_CFLAGS) -Wl,-z,relro,-z,now -o $@ $^ $(LIBS)

build/asan/anketa: $(ASAN_OBJ) build/asan/core/main.o
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(LIBS)

.SECONDEXPANSION:
build/plugins/%.so: $$(wildcard plugins/$$*/*.c plugins/$$*/*.h) core/plugin_api.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) $(RELEASE_CFLAGS) -shared -Wl,-z,relro,-z,now -o $@ $(filter %.c,$^) \
	    $(PLUGIN_LIBS_$*)

build/asan/plugins/%.so: $$(wildcard plugins/$$*/*.c plugins/$$*/*.h) core/plugin_api.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) $(ASAN_CFLAGS) -shared -o $@ $(filter %.c,$^) $(PLUGIN_LIBS_$*)

build/clang/plugins/%.so: $$(wildcard plugins/$$*/*.c plugins/$$*/*.h) core/plugin_api.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -O2 -shared -o $@ $(filter %.c,$^) $(PLUGIN_LIBS_$*)

build/asan/test-plugins/%.so: tests/plugins/%.c core/plugin_api.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) $(ASAN_CFLAGS) -shared -o $@ $<

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
# test_load runs the release build instead: RSS under ASan grows with its quarantine.
TEST_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ANKETA_RELEASE_BIN=build/anketa

test: deps
	@$(MAKE) --no-print-directory clang-check format-check js-test $(UNIT_BIN) build/asan/anketa \
	    build/anketa $(REL_PLUGINS) $(INTEG_BIN) $(ASAN_PLUGINS) $(TEST_PLUGINS)
	@$(MAKE) --no-print-directory browser-test
	@$(TEST_ENV) ANKETA_BIN=build/asan/anketa ANKETA_ROOT=$(CURDIR) tests/run.sh $(UNIT_BIN) $(INTEG_BIN)

unit: $(UNIT_BIN) $(ASAN_PLUGINS) $(TEST_PLUGINS)
	@$(TEST_ENV) ANKETA_ROOT=$(CURDIR) tests/run.sh $(UNIT_BIN)

integration: build/asan/anketa build/anketa $(REL_PLUGINS) $(INTEG_BIN) $(ASAN_PLUGINS) \
             $(TEST_PLUGINS)
	@$(TEST_ENV) ANKETA_BIN=build/asan/anketa ANKETA_ROOT=$(CURDIR) tests/run.sh $(INTEG_BIN)

# The code must build warning-free with clang as well as gcc.
clang-check:
	@echo "== clang -Werror build"
	@$(MAKE) --no-print-directory CC=clang build/clang/anketa $(CLANG_PLUGINS)

build/clang/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O2 -MMD -MP -c $< -o $@

build/clang/anketa: $(LIB_SRC:%.c=build/clang/%.o) build/clang/core/main.o
	$(CC) -o $@ $^ $(LIBS)

FORMAT_FILES = $(wildcard core/*.[ch] tests/unit/*.c tests/integration/*.[ch] plugins/*/*.[ch] \
                 tests/plugins/*.c bench/*/*.c)

# The browser's copy of the expression language runs the same vectors as the C one.
js-test:
	@echo "== node --test tests/js/"
	@node --test tests/js/

# Pages in Debian's headless Chromium (playwright-core and axe-core from npm, pinned by
# tests/browser/package-lock.json); screenshots land in build/artifacts/.
browser-test: build/asan/anketa $(ASAN_PLUGINS)
	@echo "== node --test tests/browser/ (headless Chromium)"
	@[ -d tests/browser/node_modules ] || \
	    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	@ANKETA_ROOT=$(CURDIR) ANKETA_BIN=build/asan/anketa node --test tests/browser/

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@echo "== clang-format check"
	@clang-format --dry-run --Werror $(FORMAT_FILES)

# A sub-make: pkg-config runs only after deps has installed the libraries it describes.
run: deps
	@$(MAKE) --no-print-directory build/anketa $(REL_PLUGINS)
	@scripts/run.sh $(PORT)

clean:
	rm -rf build

# `make bench` (bench/run.sh; not part of `make test`): anketa against the ceilings of the
# machine it runs on, measured in the same command. The ceiling responder is an -O2 build kept
# out of the main binary.
build/bench/fcgi_ceiling: bench/ceiling/fcgi_ceiling.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(RELEASE_CFLAGS) -o $@ $< $(PKG_LIBS) -lfcgi -lpthread

bench: deps
	@$(MAKE) --no-print-directory build/anketa $(REL_PLUGINS) build/bench/fcgi_ceiling
	@bench/run.sh

-include $(shell find build -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------------------------------------
# Installation and the Debian package (docs/deploy.md).
#
# `make install` puts a release build under PREFIX (DESTDIR stages it elsewhere): the binary,
# the man page, the plugins in lib/anketa/plugins, and share/anketa/{web,surveys,lua}, which
# belong to the installation and are replaced on every install. The configuration, /etc/anketa/anketa.conf, is written only when
# absent, so an administrator's file is never overwritten; its paths point at PREFIX, and that
# is how the installed binary finds its data (the built-in defaults stay those of the source
# tree, for `make run`). `make uninstall` removes what install put, never the configuration or
# the database. `make deb` stages an install with PREFIX=/usr and wraps it with deploy/debian
# into build/anketa_VERSION_ARCH.deb.

VERSION := $(shell cat VERSION)
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
DATADIR  = $(PREFIX)/share/anketa
MANDIR   = $(PREFIX)/share/man
PLUGINDIR = $(PREFIX)/lib/anketa/plugins
CONFDIR  = /etc/anketa
DATA_DIRS := web surveys lua

# The version has one home, VERSION; main.c is given it here.
MAIN_OBJS := build/rel/core/main.o build/asan/core/main.o build/clang/core/main.o
$(MAIN_OBJS): VERSION
$(MAIN_OBJS): BASE_CFLAGS += -DANKETA_VERSION='"$(VERSION)"'

.PHONY: install uninstall deb

install: build/anketa $(REL_PLUGINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)
	install -m 0755 build/anketa $(DESTDIR)$(BINDIR)/anketa
	install -m 0644 docs/anketa.1 $(DESTDIR)$(MANDIR)/man1/anketa.1
	rm -rf $(DESTDIR)$(PLUGINDIR)
	install -d $(DESTDIR)$(PLUGINDIR)
	install -m 0644 $(REL_PLUGINS) $(DESTDIR)$(PLUGINDIR)/
	@set -e; for d in $(DATA_DIRS); do \
	    rm -rf "$(DESTDIR)$(DATADIR)/$$d"; \
	    [ -d $$d ] || continue; \
	    find $$d -type f ! -name '.*' -print0 | \
	        xargs -0 -r -I{} install -D -m 0644 {} "$(DESTDIR)$(DATADIR)/{}"; \
	done
	@echo "installed the program, the manual and $(DESTDIR)$(DATADIR)"
	@if [ -e $(DESTDIR)$(CONFDIR)/anketa.conf ]; then \
	    echo "kept the existing $(DESTDIR)$(CONFDIR)/anketa.conf"; \
	else \
	    install -d $(DESTDIR)$(CONFDIR) && \
	    sed -e 's|/usr/share/anketa|$(DATADIR)|g' -e 's|/usr/lib/anketa|$(PREFIX)/lib/anketa|g' \
	        deploy/anketa.conf \
	        > $(DESTDIR)$(CONFDIR)/anketa.conf && \
	    chmod 0644 $(DESTDIR)$(CONFDIR)/anketa.conf && \
	    echo "wrote $(DESTDIR)$(CONFDIR)/anketa.conf"; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/anketa $(DESTDIR)$(MANDIR)/man1/anketa.1
	rm -rf $(addprefix $(DESTDIR)$(DATADIR)/,$(DATA_DIRS)) $(DESTDIR)$(PLUGINDIR)
	@rmdir $(DESTDIR)$(DATADIR) $(DESTDIR)$(PREFIX)/lib/anketa 2>/dev/null || true
	@echo "kept $(DESTDIR)$(CONFDIR)/anketa.conf and the database"

DEB_ARCH  = $(shell dpkg --print-architecture)
DEB_STAGE = build/deb/anketa
DEB_FILE  = build/anketa_$(VERSION)_$(DEB_ARCH).deb
DEB_DOC   = $(DEB_STAGE)/usr/share/doc/anketa

deb: build/anketa
	@test "$$(dpkg-parsechangelog -l deploy/debian/changelog -S Version)" = "$(VERSION)" || \
	    { echo "deploy/debian/changelog: its newest entry is not version $(VERSION)"; exit 1; }
	rm -rf build/deb
	@$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(DEB_STAGE) PREFIX=/usr
	strip --strip-unneeded --remove-section=.comment --remove-section=.note \
	    $(DEB_STAGE)/usr/bin/anketa $(DEB_STAGE)/usr/lib/anketa/plugins/*.so
	gzip -9n $(DEB_STAGE)/usr/share/man/man1/anketa.1
	install -D -m 0644 deploy/anketa.service $(DEB_STAGE)/lib/systemd/system/anketa.service
	install -D -m 0644 deploy/debian/copyright $(DEB_DOC)/copyright
	gzip -9n < deploy/debian/changelog > $(DEB_DOC)/changelog.gz
	for f in docs/*.md; do gzip -9n < "$$f" > "$(DEB_DOC)/$${f#docs/}.gz"; done
	install -D -m 0644 deploy/nginx-site.conf $(DEB_DOC)/examples/nginx-site.conf
	install -d $(DEB_DOC)/examples/samples
	find docs/samples -maxdepth 1 -type f -exec install -m 0644 -t $(DEB_DOC)/examples/samples {} +
	find $(DEB_STAGE) -type d -exec chmod 0755 {} +
	find $(DEB_STAGE) -type f -exec chmod 0644 {} +
	chmod 0755 $(DEB_STAGE)/usr/bin/anketa
	install -d $(DEB_STAGE)/DEBIAN build/deb/debian
	install -m 0644 deploy/debian/conffiles $(DEB_STAGE)/DEBIAN/conffiles
	install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm \
	    $(DEB_STAGE)/DEBIAN/
	printf 'Source: anketa\n\nPackage: anketa\nArchitecture: any\n' > build/deb/debian/control
	cd build/deb && dpkg-shlibdeps -O anketa/usr/bin/anketa anketa/usr/lib/anketa/plugins/*.so \
	    > shlibs.substvars
	cd $(DEB_STAGE) && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | \
	    xargs -0 md5sum > DEBIAN/md5sums
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' \
	    -e "s|@MAINTAINER@|$$(dpkg-parsechangelog -l deploy/debian/changelog -S Maintainer)|" \
	    -e "s|@SIZE@|$$(du -sk --exclude=DEBIAN $(DEB_STAGE) | cut -f1)|" \
	    -e "s|@DEPENDS@|$$(sed -n 's/^shlibs:Depends=//p' build/deb/shlibs.substvars)|" \
	    deploy/debian/control.in > $(DEB_STAGE)/DEBIAN/control
	dpkg-deb --root-owner-group --build $(DEB_STAGE) $(DEB_FILE)

# ---------------------------------------------------------------------------------------------
# Fuzzing (tests/fuzz/README.md). `make fuzz` builds the libFuzzer harnesses with Debian's
# clang into build/fuzz/ and runs each for FUZZ_SECONDS, two at a time, on a copy of its seed
# corpus in build/fuzz/corpus/<target> (so what the fuzzer adds stays out of the tree). A
# crash, leak, timeout or broken invariant fails with the path of the input that caused it.

FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_CC      := clang
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined
FUZZ_TARGETS := survey expr form csv i18n tmpl http
FUZZ_BIN     := $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
FUZZ_COMMON  := build/fuzz/tests/fuzz/fuzz_common.o build/fuzz/core/arena.o \
                build/fuzz/core/err.o build/fuzz/core/buf.o
fuzz_objs = $(patsubst %,build/fuzz/core/%.o,$(1))

# The core modules each harness exercises; every one links FUZZ_COMMON.
$(FUZZ_BIN): $(FUZZ_COMMON)
build/fuzz/fuzz_survey: $(call fuzz_objs,survey expr crypto store)
build/fuzz/fuzz_expr:   $(call fuzz_objs,expr)
build/fuzz/fuzz_form:   $(call fuzz_objs,form response survey expr crypto store i18n)
build/fuzz/fuzz_csv:    $(call fuzz_objs,csv)
build/fuzz/fuzz_i18n:   $(call fuzz_objs,i18n)
build/fuzz/fuzz_tmpl:   $(call fuzz_objs,tmpl)
build/fuzz/fuzz_http:   $(call fuzz_objs,http form)

# Longest input per target: a questionnaire, CSV or catalogue file of a few screens, a body, a
# template. (fuzz_csv makes a long input cross the reader's 64 KiB chunk by itself.)
FUZZ_MAXLEN_survey := 16384
FUZZ_MAXLEN_expr   := 8192
FUZZ_MAXLEN_form   := 8192
FUZZ_MAXLEN_csv    := 16384
FUZZ_MAXLEN_i18n   := 24576
FUZZ_MAXLEN_tmpl   := 8192
FUZZ_MAXLEN_http   := 8192

FUZZ_ENV := UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_CFLAGS) -Itests/fuzz -MMD -MP -o $@ $(filter %.c %.o,$^) \
	    $(LIBS)

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) fuzz-build
	@$(MAKE) --no-print-directory -j$(FUZZ_JOBS) -k --output-sync=target \
	    $(FUZZ_TARGETS:%=fuzz-run-%)

# Not .PHONY (make skips pattern rules for phony targets); no file of these names is made.
fuzz-run-%: build/fuzz/fuzz_%
	@rm -rf build/fuzz/artifacts/$*
	@mkdir -p build/fuzz/corpus/$* build/fuzz/artifacts/$*
	@cp -R tests/fuzz/corpus/$*/. build/fuzz/corpus/$*/
	@echo "== fuzz $* for $(FUZZ_SECONDS) s (log: build/fuzz/$*.log)"
	@if $(FUZZ_ENV) ANKETA_ROOT=$(CURDIR) build/fuzz/fuzz_$* -max_total_time=$(FUZZ_SECONDS) \
	        -max_len=$(FUZZ_MAXLEN_$*) -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
	        $(if $(wildcard tests/fuzz/$*.dict),-dict=tests/fuzz/$*.dict) \
	        -artifact_prefix=build/fuzz/artifacts/$*/ build/fuzz/corpus/$* \
	        > build/fuzz/$*.log 2>&1; then \
	    grep -E '^#[0-9]+[[:space:]]+DONE' build/fuzz/$*.log | tail -n 1; \
	    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
	        build/fuzz/$*.log | tr '\n' ' '; echo; \
	else \
	    tail -n 60 build/fuzz/$*.log; \
	    echo "fuzz $*: FAILED; the input is $$(ls build/fuzz/artifacts/$*/* 2>/dev/null | \
	        tr '\n' ' ')(reproduce: build/fuzz/fuzz_$* FILE)"; \
	    exit 1; \
	fi
