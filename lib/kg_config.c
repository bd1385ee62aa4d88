#include "kg_config.h"
#include "kg_array.h"
#include "kg_log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum conf_type { T_STR, T_INT, T_BOOL, T_SECRET, T_ENUM };

struct conf_key {
	const char *section;
	const char *key;
	enum conf_type type;
	const char *def;
	long long min;		/* T_INT: bounds; T_STR/T_SECRET: min length */
	long long max;
	const char *choices;	/* T_ENUM: "a|b|c" */
};

/*
 * The one list of every configuration key.  README.md documents the same
 * keys; kartograf-admin config-check prints this table's view of a file.
 */
static const struct conf_key conf_keys[] = {
	{"database", "conninfo", T_STR, "dbname=kartograf", 1, 4096, NULL},
	{"database", "connect_timeout", T_INT, "5", 1, 300, NULL},
	{"database", "statement_timeout_ms", T_INT, "30000", 100, 3600000,
	 NULL},
	{"redis", "host", T_STR, "127.0.0.1", 1, 255, NULL},
	{"redis", "port", T_INT, "6379", 1, 65535, NULL},
	{"redis", "password", T_SECRET, "", 0, 512, NULL},
	{"redis", "db", T_INT, "0", 0, 10000, NULL},
	{"redis", "timeout_ms", T_INT, "2000", 50, 60000, NULL},
	{"http", "max_body", T_INT, "10485760", 1024, 1073741824, NULL},
	/* Issue 16: peers whose X-Forwarded-For is believed (kg_net). */
	{"http", "trusted_proxies", T_STR, "", 0, 4096, NULL},
	{"log", "level", T_ENUM, "info", 0, 0, "debug|info|warn|error"},
	{"auth", "jwt_key", T_SECRET, "", 0, 4096, NULL},
	{"auth", "token_ttl", T_INT, "28800", 60, 604800, NULL},
	{"auth", "issuer", T_STR, "kartograf", 1, 255, NULL},
	{"auth", "argon2_memory_kib", T_INT, "19456", 1024, 4194304, NULL},
	{"auth", "argon2_iterations", T_INT, "2", 1, 64, NULL},
	/* Login throttling (issue 16, kg_login): per (email, address) pair,
	 * per email across addresses, per address across emails. */
	{"auth", "login_max_failures", T_INT, "5", 1, 1000, NULL},
	{"auth", "login_email_max_failures", T_INT, "20", 1, 100000, NULL},
	{"auth", "login_addr_max_failures", T_INT, "100", 1, 1000000, NULL},
	{"auth", "login_window", T_INT, "900", 10, 86400, NULL},
	/* ?token= on the event stream, for old clients (off: use tickets). */
	{"auth", "query_token", T_BOOL, "false", 0, 0, NULL},
	{"worker", "concurrency", T_INT, "5", 1, 100, NULL},
	{"worker", "global_limit", T_INT, "20", 1, 1000, NULL},
	{"worker", "user_concurrency", T_INT, "0", 0, 1000, NULL},
	{"worker", "shutdown_grace", T_INT, "30", 0, 3600, NULL},
	/* kartograf-worker --cron (shared hosting, issue 13) */
	{"worker", "idle_exit", T_INT, "50", 1, 86400, NULL},
	/* Generation worker (issue 5): queue lease, reaper, reconciler. */
	{"worker", "lease_ms", T_INT, "30000", 500, 3600000, NULL},
	{"worker", "reconcile_interval", T_INT, "30", 1, 3600, NULL},
	{"worker", "reconcile_grace", T_INT, "10", 0, 3600, NULL},
	{"worker", "progress_interval_ms", T_INT, "2000", 100, 60000, NULL},
	{"ai", "provider", T_ENUM, "offline", 0, 0,
	 "offline|bedrock|azure|openai"},
	{"ai", "offline_delay_ms", T_INT, "300", 0, 60000, NULL},
	{"ai", "max_attempts", T_INT, "3", 1, 10, NULL},
	{"ai", "retry_base_ms", T_INT, "500", 0, 60000, NULL},
	/* LLM providers (issue 6): failover chain, back-off, breaker, cost. */
	{"ai", "providers", T_STR, "", 0, 255, NULL},
	{"ai", "retry_max_ms", T_INT, "20000", 0, 600000, NULL},
	{"ai", "retry_after_max_ms", T_INT, "60000", 0, 3600000, NULL},
	{"ai", "connect_timeout_ms", T_INT, "5000", 100, 120000, NULL},
	{"ai", "timeout_ms", T_INT, "120000", 100, 3600000, NULL},
	{"ai", "breaker_threshold", T_INT, "3", 1, 1000, NULL},
	{"ai", "breaker_cooldown_ms", T_INT, "30000", 100, 86400000, NULL},
	{"ai", "prices", T_STR,
	 "anthropic.claude-3-5-sonnet-20240620-v1:0=0.003:0.015, "
	 "anthropic.claude-3-5-sonnet-20241022-v2:0=0.003:0.015, "
	 "gpt-4=0.03:0.06, gpt-4o=0.0025:0.01", 0, 4096, NULL},
	{"bedrock", "region", T_STR, "us-east-1", 1, 64, NULL},
	{"bedrock", "model_id", T_STR,
	 "anthropic.claude-3-5-sonnet-20240620-v1:0", 1, 255, NULL},
	{"bedrock", "endpoint", T_STR, "", 0, 1024, NULL},
	{"bedrock", "access_key_id", T_SECRET, "", 0, 128, NULL},
	{"bedrock", "secret_access_key", T_SECRET, "", 0, 256, NULL},
	{"bedrock", "session_token", T_SECRET, "", 0, 4096, NULL},
	{"bedrock", "api_key", T_SECRET, "", 0, 4096, NULL},
	{"azure", "endpoint", T_STR, "", 0, 1024, NULL},
	{"azure", "resource", T_STR, "", 0, 255, NULL},
	{"azure", "deployment", T_STR, "gpt-4", 1, 255, NULL},
	{"azure", "api_version", T_STR, "2024-06-01", 1, 64, NULL},
	{"azure", "api_key", T_SECRET, "", 0, 1024, NULL},
	{"azure", "model", T_STR, "gpt-4", 1, 255, NULL},
	{"openai", "base_url", T_STR, "http://127.0.0.1:8080/v1", 1, 1024,
	 NULL},
	{"openai", "api_key", T_SECRET, "", 0, 1024, NULL},
	{"openai", "model", T_STR, "gpt-4o", 1, 255, NULL},
	{"storage", "backend", T_ENUM, "local", 0, 0, "local|s3"},
	{"storage", "local_dir", T_STR, "/var/lib/kartograf/files", 1, 4096,
	 NULL},
	/* S3 or any S3-compatible store (issue 9, lib/kg_storage_s3.c). */
	{"storage", "s3_endpoint", T_STR, "", 0, 1024, NULL},
	{"storage", "s3_bucket", T_STR, "", 0, 255, NULL},
	{"storage", "s3_region", T_STR, "us-east-1", 1, 64, NULL},
	{"storage", "s3_path_style", T_BOOL, "false", 0, 0, NULL},
	{"storage", "s3_prefix", T_STR, "", 0, 512, NULL},
	{"storage", "s3_access_key", T_STR, "", 0, 256, NULL},
	{"storage", "s3_secret_key", T_SECRET, "", 0, 512, NULL},
	{"storage", "s3_session_token", T_SECRET, "", 0, 4096, NULL},
	{"storage", "s3_timeout_ms", T_INT, "30000", 100, 600000, NULL},
	/* Export (issue 9): how long the endpoint waits for the worker. */
	{"export", "wait_timeout", T_INT, "30", 1, 600, NULL},
	/* Export retention (issue 17): days after which old stored exports
	 * are pruned by the worker once a day; 0 = keep everything. */
	{"export", "retention_days", T_INT, "0", 0, 36500, NULL},
	/* SSE relay (cgi-bin/events.c, issue 7). */
	{"events", "max_streams", T_INT, "256", 1, 10000, NULL},
	{"events", "heartbeat", T_INT, "15", 1, 300, NULL},
	{"events", "end_grace", T_INT, "5", 0, 300, NULL},
	{"events", "gap_wait_ms", T_INT, "1000", 10, 60000, NULL},
	{"events", "max_stream_seconds", T_INT, "0", 0, 86400, NULL},
	{"events", "max_streams_per_user", T_INT, "10", 1, 10000, NULL},
	/* GET /metrics: a bearer token for the scraper; empty = closed. */
	{"metrics", "token", T_SECRET, "", 0, 512, NULL},
	{"paths", "sql_dir", T_STR, "/usr/share/kartograf/sql", 1, 4096, NULL},
};

#define NKEYS KG_COUNT(conf_keys)

struct conf_values {
	char *val[NKEYS];
};

struct conf_load {
	struct conf_values *v;
	void (*report)(const char *msg);
	int problems;
};

static struct conf_values *current;
static char current_path[4096];

static int
find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcasecmp(conf_keys[i].section, section) &&
		    !strcasecmp(conf_keys[i].key, key))
			return (int)i;
	return -1;
}

static void
problem(struct conf_load *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
problem(struct conf_load *ld, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ld->problems++;
	if (ld->report)
		ld->report(msg);
}

static int
set_value(struct conf_values *v, int i, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -1;
	free(v->val[i]);
	v->val[i] = copy;
	return 0;
}

static int
on_ini_entry(void *user, const char *section, const char *name,
	     const char *value)
{
	struct conf_load *ld = user;
	int i = find_key(section, name);

	if (i < 0) {
		problem(ld, "unknown key [%s] %s", section, name);
		return 1;	/* keep going: report every problem at once */
	}
	if (set_value(ld->v, i, value) < 0)
		problem(ld, "out of memory");
	return 1;
}

static void
apply_env(struct conf_load *ld)
{
	char name[128];

	for (size_t i = 0; i < NKEYS; i++) {
		const char *val;
		size_t n;

		n = (size_t)snprintf(name, sizeof(name), "KARTOGRAF_%s_%s",
				     conf_keys[i].section, conf_keys[i].key);
		for (size_t j = 0; j < n; j++)
			name[j] = (char)toupper((unsigned char)name[j]);
		val = getenv(name);
		if (val && set_value(ld->v, (int)i, val) < 0)
			problem(ld, "out of memory");
	}
}

static int
parse_int(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return (errno || end == s || *end) ? -1 : 0;
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};

	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = 1, 0;
		if (!strcasecmp(s, no[i]))
			return *out = 0, 0;
	}
	return -1;
}

static int
enum_ok(const char *choices, const char *s)
{
	size_t n = strlen(s);
	const char *p = choices;

	while (*p) {
		size_t len = strcspn(p, "|");

		if (len == n && !strncmp(p, s, n))
			return 1;
		p += len + (p[len] == '|');
	}
	return 0;
}

static void
validate_one(struct conf_load *ld, size_t i)
{
	const struct conf_key *k = &conf_keys[i];
	const char *s = ld->v->val[i];
	long long n;
	int b;

	switch (k->type) {
	case T_INT:
		if (parse_int(s, &n) < 0)
			problem(ld, "[%s] %s: \"%s\" is not an integer",
				k->section, k->key, s);
		else if (n < k->min || n > k->max)
			problem(ld, "[%s] %s: %lld is out of range %lld..%lld",
				k->section, k->key, n, k->min, k->max);
		break;
	case T_BOOL:
		if (parse_bool(s, &b) < 0)
			problem(ld, "[%s] %s: \"%s\" is not true/false",
				k->section, k->key, s);
		break;
	case T_ENUM:
		if (!enum_ok(k->choices, s))
			problem(ld, "[%s] %s: \"%s\" is not one of %s",
				k->section, k->key, s, k->choices);
		break;
	case T_STR:
	case T_SECRET:
		n = (long long)strlen(s);
		if (n < k->min || n > k->max)
			problem(ld, "[%s] %s: length %lld is out of range "
				"%lld..%lld", k->section, k->key, n, k->min,
				k->max);
		break;
	}
}

static void
values_free(struct conf_values *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		free(v->val[i]);
	free(v);
}

/*
 * The config pointer: KG_CONFIG_POINTER in the directory of the running
 * program names the config file on its first line (an absolute path).
 * This is how a program started by mod_fcgid finds its configuration on
 * a shared host, where neither /etc nor the process environment is the
 * account's to set (kartograf-install-shared writes it).
 */
static const char *
pointed_path(void)
{
	static char target[4096];
	char exe[4096], ptr[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	FILE *f;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	snprintf(ptr, sizeof(ptr), "%s/%s", exe, KG_CONFIG_POINTER);
	f = fopen(ptr, "r");
	if (!f)
		return NULL;
	if (!fgets(target, sizeof(target), f))
		target[0] = '\0';
	fclose(f);
	target[strcspn(target, "\r\n")] = '\0';
	return target[0] == '/' ? target : NULL;
}

static const char *
resolve_path(const char *path, int *explicit_path)
{
	*explicit_path = 1;
	if (path)
		return path;
	path = getenv("KARTOGRAF_CONFIG");
	if (path && *path)
		return path;
	path = pointed_path();
	if (path)
		return path;
	*explicit_path = 0;
	return KG_CONFIG_DEFAULT_PATH;
}

/*
 * Builds a complete value set (defaults, file, environment) and validates
 * it.  A missing file is only tolerated for the default path, so that a
 * deployment configured purely through the environment works while a
 * mistyped KARTOGRAF_CONFIG is reported.
 */
static struct conf_values *
load_values(const char *path, struct conf_load *ld)
{
	int explicit_path, rc;

	ld->v = calloc(1, sizeof(*ld->v));
	if (!ld->v)
		return problem(ld, "out of memory"), NULL;
	for (size_t i = 0; i < NKEYS; i++)
		if (set_value(ld->v, (int)i, conf_keys[i].def) < 0)
			problem(ld, "out of memory");
	path = resolve_path(path, &explicit_path);
	rc = ini_parse(path, on_ini_entry, ld);
	if (rc == -1 && explicit_path)
		problem(ld, "cannot read config file %s: %s", path,
			strerror(errno));
	else if (rc == -2)
		problem(ld, "out of memory reading %s", path);
	else if (rc > 0)
		problem(ld, "%s line %d: syntax error", path, rc);
	apply_env(ld);
	for (size_t i = 0; i < NKEYS; i++)
		validate_one(ld, i);
	snprintf(current_path, sizeof(current_path), "%s", path);
	return ld->v;
}

static char first_problem[512];

static void
keep_first(const char *msg)
{
	if (!first_problem[0])
		snprintf(first_problem, sizeof(first_problem), "%s", msg);
}

int
kg_config_load(const char *path, struct kg_err *err)
{
	struct conf_load ld = {.report = keep_first};
	struct conf_values *v;
	enum kg_log_level level;

	first_problem[0] = '\0';
	v = load_values(path, &ld);
	if (ld.problems) {
		values_free(v);
		return kg_err_set(err, 500, "config_invalid", "%s",
				  first_problem);
	}
	values_free(current);
	current = v;
	if (kg_log_parse_level(kg_config_str("log", "level"), &level) == 0)
		kg_log_set_level(level);
	return 0;
}

int
kg_config_check(const char *path, void (*report)(const char *msg))
{
	struct conf_load ld = {.report = report};

	values_free(load_values(path, &ld));
	return ld.problems;
}

/* Appends s[0..n) to out (size bytes, always terminated), truncating. */
static void
append(char *out, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len + 1 >= size)
		return;
	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
}

/* postgresql://user:SECRET@host/db?password=SECRET&... */
static void
mask_uri(const char *in, char *out, size_t size)
{
	const char *auth = strstr(in, "://") + 3;
	size_t alen = strcspn(auth, "/?"), len = 0;
	const char *at = memchr(auth, '@', alen);
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	const char *p;

	out[0] = '\0';
	if (colon) {
		append(out, size, &len, in, (size_t)(colon + 1 - in));
		append(out, size, &len, "***", 3);
		in = at;
	}
	while ((p = strstr(in, "password=")) &&
	       (p[-1] == '?' || p[-1] == '&')) {
		append(out, size, &len, in, (size_t)(p + 9 - in));
		append(out, size, &len, "***", 3);
		in = p + 9 + strcspn(p + 9, "&");
	}
	append(out, size, &len, in, strlen(in));
}

/* Length of a conninfo value at s: 'quoted \' escaped' or up to a space. */
static size_t
conninfo_value_len(const char *s)
{
	size_t n = 0;

	if (*s != '\'')
		return strcspn(s, " \t\n");
	for (n = 1; s[n] && s[n] != '\''; n++)
		if (s[n] == '\\' && s[n + 1])
			n++;
	return s[n] ? n + 1 : n;
}

void
kg_config_mask_conninfo(const char *in, char *out, size_t size)
{
	size_t len = 0;

	if (!size)
		return;
	out[0] = '\0';
	if (!strncmp(in, "postgresql://", 13) ||
	    !strncmp(in, "postgres://", 11)) {
		mask_uri(in, out, size);
		return;
	}
	while (*in) {
		size_t sp = strspn(in, " \t\n"), kw, eq, vl;
		int secret;

		append(out, size, &len, in, sp);
		in += sp;
		kw = strcspn(in, " \t\n=");
		secret = kw == 8 && !strncasecmp(in, "password", 8);
		eq = kw + strspn(in + kw, " \t\n");
		if (in[eq] != '=') {	/* malformed: copy the rest as is */
			append(out, size, &len, in, strlen(in));
			return;
		}
		eq += 1 + strspn(in + eq + 1, " \t\n");
		append(out, size, &len, in, eq);
		vl = conninfo_value_len(in + eq);
		append(out, size, &len, secret ? "***" : in + eq,
		       secret ? 3 : vl);
		in += eq + vl;
	}
}

void
kg_config_print(void (*out)(const char *line))
{
	char line[4400], masked[4200];

	for (size_t i = 0; i < NKEYS && current; i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *val = current->val[i];

		if (k->type == T_SECRET)
			val = *val ? "(set, hidden)" : "(not set)";
		else if (!strcmp(k->section, "database") &&
			 !strcmp(k->key, "conninfo")) {
			kg_config_mask_conninfo(val, masked, sizeof(masked));
			val = masked;
		}
		snprintf(line, sizeof(line), "[%s] %s = %s", k->section,
			 k->key, val);
		out(line);
	}
}

const char *
kg_config_path(void)
{
	return current_path;
}

void
kg_config_free(void)
{
	values_free(current);
	current = NULL;
}

static const char *
raw(const char *section, const char *key)
{
	int i = find_key(section, key);

	if (i < 0 || !current) {
		KG_ERROR("config key [%s] %s requested but %s", section, key,
			 i < 0 ? "not declared" : "no config loaded");
		abort();
	}
	return current->val[i];
}

const char *
kg_config_str(const char *section, const char *key)
{
	return raw(section, key);
}

long long
kg_config_int(const char *section, const char *key)
{
	long long n = 0;

	parse_int(raw(section, key), &n);
	return n;
}

int
kg_config_bool(const char *section, const char *key)
{
	int b = 0;

	parse_bool(raw(section, key), &b);
	return b;
}
