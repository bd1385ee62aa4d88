# Kartograf - one Makefile for the library, the endpoint programs, the
# worker, the admin tool and the tests.
#
#   make            build into build/
#   make asan       build into build-asan/ with AddressSanitizer + UBSan
#   make run        install packages, build, start the local stack
#   make test       install packages, build both, run every test
#   make bench      benchmarks (tests/bench)
#   make install    PREFIX=/usr/local: programs + host setup (user, dirs, config)
#   make deb        build/kartograf_<version>_<arch>.deb (debhelper)
#   make bundle     portable tarball for shared hosting (README "Shared
#                   hosting"): build-bundle/kartograf-<v>-linux-<arch>.tar.gz
#
# Sources are picked up by convention, so adding a module or endpoint
# needs no Makefile change:
#   lib/*.c                  -> $(B)/lib/libkartograf.a
#   cgi-bin/<name>.c         -> $(B)/cgi-bin/<name>.fcgi
#   worker/kartograf-*.c     -> $(B)/worker/kartograf-*  (programs)
#   worker/wk_*.c            -> linked into kartograf-worker
#   tests/unit/test_<m>.c    -> $(B)/tests/unit/test_<m> (cmocka)
#   tests/integration/<p>.c  -> $(B)/tests/integration/<p> (programs the
#                               integration tests run against the stack)
#   all of cgi-bin/          -> $(B)/openapi.json (the API document)

B ?= build
CC ?= cc
# build-asan/ always holds instrumented objects: any make run on it (make
# asan, or make install B=build-asan from the tests) compiles and links
# with the same sanitizers, else a relink fails on the __asan_ symbols.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
ifeq ($(B),build-asan)
SAN ?= $(ASAN_FLAGS)
endif
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
# make bundle: the programs find their libraries beside them (installed
# into public_html: lib/) or one level up (the bundle: bin/../lib).  DT_RPATH,
# not RUNPATH, so that it also serves the libraries' own dependencies.
ifdef BUNDLE
override LDFLAGS += -Wl,--disable-new-dtags,-rpath,'$$ORIGIN/lib:$$ORIGIN/../lib'
endif

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
LIB := $(B)/lib/libkartograf.a
CGI_SRC := $(wildcard cgi-bin/*.c)
CGI := $(CGI_SRC:cgi-bin/%.c=$(B)/cgi-bin/%.fcgi)
WK_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard worker/wk_*.c))
TOOLS := $(patsubst worker/%.c,$(B)/worker/%,$(wildcard worker/kartograf-*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT := $(UNIT_SRC:%.c=$(B)/%)
IT_PROG := $(patsubst %.c,$(B)/%,$(wildcard tests/integration/*.c))
BENCH := $(patsubst %.c,$(B)/%,$(wildcard tests/bench/*.c))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

ALL_OBJ := $(LIB_OBJ) $(WK_OBJ) $(CGI_SRC:%.c=$(B)/%.o) \
	$(patsubst %.c,$(B)/%.o,$(wildcard worker/kartograf-*.c)) \
	$(UNIT_SRC:%.c=$(B)/%.o) $(IT_PROG:=.o) $(BENCH:=.o)

.PHONY: all programs asan run test bench fuzz install install-files deb clean deps format format-check bundle
all: programs $(UNIT) $(IT_PROG)
# what an install needs: no unit tests, no cmocka
programs: $(LIB) $(CGI) $(TOOLS) $(B)/openapi.json

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/cgi-bin/%.fcgi: $(B)/cgi-bin/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The API document, from the programs' own route tables (kg_route.h).
$(B)/openapi.json: $(CGI) cgi-bin/openapi.json scripts/gen-openapi.py
	/usr/bin/python3 scripts/gen-openapi.py --base cgi-bin/openapi.json \
	  --version $(VERSION) --out $@ $(CGI)

$(B)/worker/kartograf-worker: $(B)/worker/kartograf-worker.o $(WK_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(B)/worker/kartograf-%: $(B)/worker/kartograf-%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(B)/tests/unit/test_%: $(B)/tests/unit/test_%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(B)/tests/integration/%: $(B)/tests/integration/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(B)/tests/bench/%: $(B)/tests/bench/%.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

asan:
	$(MAKE) B=build-asan CFLAGS="-O1 -g"

# Objects are kept between runs (they are chained intermediates of the
# pattern rules, which make would otherwise delete after linking and
# rebuild - with whatever flags that later run has).
.SECONDARY:

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
LOCALSTATEDIR ?= /var
RUNSTATEDIR ?= /run
UNITDIR ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
LIBEXECDIR := $(PREFIX)/lib/kartograf
DATADIR := $(PREFIX)/share/kartograf
D := $(DESTDIR)
SUBST := sed -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g' \
	-e 's|@RUNSTATEDIR@|$(RUNSTATEDIR)|g' -e 's|@LIBDIR@|$(LIBEXECDIR)|g' \
	-e 's|@DATADIR@|$(DATADIR)|g' -e 's|@SBINDIR@|$(PREFIX)/sbin|g' \
	-e 's|@BINDIR@|$(PREFIX)/bin|g'
# the files of an install, into $(DESTDIR) (the Debian package uses this too)
install-files: programs
	install -d $(D)$(LIBEXECDIR)/cgi-bin $(D)$(PREFIX)/sbin $(D)$(PREFIX)/bin \
	  $(D)$(DATADIR)/sql $(D)$(DATADIR)/htdocs $(D)$(DATADIR)/apache \
	  $(D)$(DATADIR)/lighttpd $(D)$(UNITDIR) $(D)$(TMPFILESDIR) \
	  $(D)$(SYSCONFDIR)/logrotate.d $(D)$(SYSCONFDIR)/apache2/sites-available
	install -m 755 $(CGI) $(D)$(LIBEXECDIR)/cgi-bin/
	install -m 644 $(B)/openapi.json $(D)$(LIBEXECDIR)/
	install -m 755 scripts/fcgi-multi $(D)$(LIBEXECDIR)/
	$(SUBST) dist/kartograf-fcgi-run.in >$(D)$(LIBEXECDIR)/kartograf-fcgi-run
	install -m 755 $(B)/worker/kartograf-worker $(D)$(PREFIX)/sbin/
	install -m 755 $(B)/worker/kartograf-admin $(D)$(PREFIX)/bin/
	$(SUBST) dist/kartograf-ctl.in >$(D)$(PREFIX)/sbin/kartograf-ctl
	$(SUBST) dist/kartograf-setup.in >$(D)$(PREFIX)/sbin/kartograf-setup
	$(SUBST) dist/kartograf-host-setup.in >$(D)$(DATADIR)/kartograf-host-setup
	chmod 755 $(D)$(LIBEXECDIR)/kartograf-fcgi-run $(D)$(PREFIX)/sbin/kartograf-ctl \
	  $(D)$(PREFIX)/sbin/kartograf-setup $(D)$(DATADIR)/kartograf-host-setup
	install -m 644 sql/*.sql $(D)$(DATADIR)/sql/
	cp -R htdocs/. $(D)$(DATADIR)/htdocs/
	chmod -R u=rwX,go=rX $(D)$(DATADIR)/htdocs
	install -m 755 scripts/gen-webconf.py $(D)$(DATADIR)/
	install -m 644 apache/routes worker/kartograf.conf.example $(D)$(DATADIR)/
	$(SUBST) apache/kartograf-common.conf >$(D)$(DATADIR)/apache/kartograf-common.conf
	/usr/bin/python3 scripts/gen-webconf.py --server apache --routes apache/routes \
	  --socket-dir $(RUNSTATEDIR)/kartograf --out $(D)$(DATADIR)/apache/kartograf-routes.conf
	/usr/bin/python3 scripts/gen-webconf.py --server lighttpd --routes apache/routes \
	  --socket-dir $(RUNSTATEDIR)/kartograf --out $(D)$(DATADIR)/lighttpd/kartograf-routes.conf
	install -m 644 apache/lighttpd-site.conf $(D)$(DATADIR)/lighttpd/
	$(SUBST) apache/kartograf-site.conf >$(D)$(SYSCONFDIR)/apache2/sites-available/kartograf.conf
	$(SUBST) apache/kartograf-site-ssl.conf >$(D)$(SYSCONFDIR)/apache2/sites-available/kartograf-ssl.conf
	for u in kartograf-fcgi@.socket kartograf-fcgi@.service kartograf-worker.service; do \
	  $(SUBST) dist/$$u.in >$(D)$(UNITDIR)/$$u || exit 1; done
	{ echo '# Kartograf: every FastCGI socket and the worker (kartograf-setup enables it)'; \
	  echo '[Unit]'; echo 'Description=Kartograf (FastCGI programs and worker)'; \
	  printf 'Wants=kartograf-worker.service'; \
	  for p in $(CGI:$(B)/cgi-bin/%.fcgi=%); do printf ' kartograf-fcgi@%s.socket' $$p; done; \
	  echo; echo; echo '[Install]'; echo 'WantedBy=multi-user.target'; \
	} >$(D)$(UNITDIR)/kartograf.target
	$(SUBST) dist/kartograf.tmpfiles.in >$(D)$(TMPFILESDIR)/kartograf.conf
	$(SUBST) dist/kartograf.logrotate.in >$(D)$(SYSCONFDIR)/logrotate.d/kartograf
	chmod 644 $(D)$(DATADIR)/apache/* $(D)$(DATADIR)/lighttpd/* $(D)$(UNITDIR)/kartograf* \
	  $(D)$(TMPFILESDIR)/kartograf.conf $(D)$(SYSCONFDIR)/logrotate.d/kartograf \
	  $(D)$(SYSCONFDIR)/apache2/sites-available/kartograf*.conf

# install + host setup (user kartograf, /var/lib/kartograf/files, /var/log/kartograf,
# the config with a fresh jwt_key unless one exists); with DESTDIR only the files
install: install-files
	@if [ -z "$(DESTDIR)" ]; then $(DATADIR)/kartograf-host-setup $(HOST_SETUP_ARGS); \
	else echo "DESTDIR set: host setup skipped (run $(DATADIR)/kartograf-host-setup on the host)"; fi

# Debian package from the build tree $(B) (reused when up to date; no unit tests)
DEB_VERSION ?= 0.1.0+$(shell git rev-list --count HEAD 2>/dev/null || echo 0)
deb: programs
	{ echo 'kartograf ($(DEB_VERSION)) unstable; urgency=medium'; echo; \
	  echo '  * Built from $(VERSION).'; echo; \
	  echo ' -- Kartograf maintainers <kartograf@example.org>  '"$$(date -R)"; \
	} >debian/changelog
	rm -f $(B)/kartograf_*.deb
	debian/rules B=$(B) binary
	debian/rules B=$(B) clean >/dev/null
	rm -rf debian/kartograf debian/.debhelper debian/files debian/*.substvars \
	  debian/debhelper-build-stamp debian/*.debhelper debian/*.debhelper.log
	@ls $(B)/kartograf_*.deb

FORMAT_SRC = lib/*.[ch] cgi-bin/*.c worker/*.[ch] tests/unit/*.c tests/integration/*.c \
	tests/fuzz/*.[ch]

bundle:
	$(MAKE) B=build-bundle BUNDLE=1 programs
	scripts/bundle.sh build-bundle $(VERSION)

format:
	clang-format -i $(FORMAT_SRC)

# The files clang-format (.clang-format) would change, and how many lines;
# fails when there is any.  Not in CI yet: see README "Tests".
format-check:
	@n=0; for f in $(FORMAT_SRC); do \
	  d=$$(clang-format $$f | diff $$f - | grep -c '^>'); \
	  if [ "$$d" -gt 0 ]; then echo "$$f: $$d lines"; n=$$((n + 1)); fi; \
	done; echo "format-check: $$n files differ from .clang-format"; [ $$n -eq 0 ]

clean:
	rm -rf build build-asan build-bundle
	rm -f debian/changelog

-include $(ALL_OBJ:.o=.d)
