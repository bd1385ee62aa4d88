# Kartograf - one Makefile for the library, the endpoint programs, the
# worker, the admin tool and the tests.
#
#   make            build into build/
#   make asan       build into build-asan/ with AddressSanitizer + UBSan
#   make run        install packages, build, start the local stack
#   make test       install packages, build both, run every test
#   make bench      benchmarks (tests/bench)
#   make install    PREFIX=/usr/local DESTDIR=...
#
# Sources are picked up by convention, so adding a module or endpoint
# needs no Makefile change:
#   lib/*.c                  -> $(B)/lib/libkartograf.a
#   cgi-bin/<name>.c         -> $(B)/cgi-bin/<name>.fcgi
#   worker/kartograf-*.c     -> $(B)/worker/kartograf-*  (programs)
#   worker/wk_*.c            -> linked into kartograf-worker
#   tests/unit/test_<m>.c    -> $(B)/tests/unit/test_<m> (cmocka)

B ?= build
CC ?= cc
PKGS := libpq hiredis libcurl libcjson libzip libjwt openssl expat \
	xlsxwriter inih libargon2
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-missing-field-initializers
# `override`: `make asan` sets CFLAGS on the command line, which would
# otherwise drop everything added here - the warnings, -std=c11 and the
# sanitizers themselves ($(SAN)) - from every compile.
override CPPFLAGS += -Ilib -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
	-DKG_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS))
CFLAGS ?= -O2 -g
override CFLAGS += -std=c11 $(WARN) -fno-strict-aliasing -MMD -MP $(SAN)
LDLIBS += $(shell pkg-config --libs $(PKGS)) -lfcgi -lpthread -lm
override LDFLAGS += $(SAN)

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
LIB := $(B)/lib/libkartograf.a
CGI_SRC := $(wildcard cgi-bin/*.c)
CGI := $(CGI_SRC:cgi-bin/%.c=$(B)/cgi-bin/%.fcgi)
WK_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard worker/wk_*.c))
TOOLS := $(patsubst worker/%.c,$(B)/worker/%,$(wildcard worker/kartograf-*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT := $(UNIT_SRC:%.c=$(B)/%)
BENCH := $(patsubst %.c,$(B)/%,$(wildcard tests/bench/*.c))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

ALL_OBJ := $(LIB_OBJ) $(WK_OBJ) $(CGI_SRC:%.c=$(B)/%.o) \
	$(patsubst %.c,$(B)/%.o,$(wildcard worker/kartograf-*.c)) \
	$(UNIT_SRC:%.c=$(B)/%.o)

.PHONY: all asan run test bench fuzz install clean deps format
all: $(LIB) $(CGI) $(TOOLS) $(UNIT)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/cgi-bin/%.fcgi: $(B)/cgi-bin/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(B)/worker/kartograf-worker: $(B)/worker/kartograf-worker.o $(WK_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(B)/worker/kartograf-%: $(B)/worker/kartograf-%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(B)/tests/unit/test_%: $(B)/tests/unit/test_%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(B)/tests/bench/%: $(B)/tests/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

asan:
	$(MAKE) B=build-asan CFLAGS="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

deps:
	scripts/deps.sh

run: deps
	$(MAKE) all
	scripts/run.sh

test:
	scripts/deps.sh --test
	$(MAKE) all
	$(MAKE) asan
	BUILD=build-asan scripts/test.sh

bench:
	scripts/deps.sh --test
	$(MAKE) all $(BENCH)
	scripts/bench.sh

fuzz:
	scripts/fuzz.sh $(FUZZ_SRC)

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
install: all
	install -d $(DESTDIR)$(PREFIX)/lib/kartograf/cgi-bin \
	  $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/share/kartograf/sql \
	  $(DESTDIR)$(PREFIX)/share/kartograf/htdocs \
	  $(DESTDIR)$(PREFIX)/share/doc/kartograf/examples \
	  $(DESTDIR)$(SYSCONFDIR)/kartograf
	install -m 755 $(CGI) $(DESTDIR)$(PREFIX)/lib/kartograf/cgi-bin/
	install -m 755 $(B)/worker/kartograf-worker $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(B)/worker/kartograf-admin $(DESTDIR)$(PREFIX)/bin/
	install -m 644 sql/*.sql $(DESTDIR)$(PREFIX)/share/kartograf/sql/
	cp -R htdocs/. $(DESTDIR)$(PREFIX)/share/kartograf/htdocs/
	install -m 755 scripts/gen-webconf.py $(DESTDIR)$(PREFIX)/share/kartograf/
	install -m 644 apache/* worker/*.service worker/kartograf.conf.example \
	  $(DESTDIR)$(PREFIX)/share/doc/kartograf/examples/
	test -e $(DESTDIR)$(SYSCONFDIR)/kartograf/kartograf.conf || \
	  install -m 640 worker/kartograf.conf.example \
	    $(DESTDIR)$(SYSCONFDIR)/kartograf/kartograf.conf

format:
	clang-format -i lib/*.[ch] cgi-bin/*.c worker/*.c tests/unit/*.c

clean:
	rm -rf build build-asan

-include $(ALL_OBJ:.o=.d)
