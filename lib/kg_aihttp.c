/* strptime() for HTTP-dates in Retry-After */
#define _XOPEN_SOURCE 700

#include "kg_aihttp.h"
#include "kg_utf8.h"
#include "kg_buf.h"
#include "kg_config.h"
#include "kg_log.h"
#include "kg_version.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Wire formats */

static char *
print_and_delete(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

static int
max_tokens(const struct kg_ai_request *req)
{
	return req->max_tokens > 0 ? req->max_tokens : 4096;
}

char *
kg_aihttp_anthropic_body(const struct kg_ai_request *req)
{
	cJSON *o = cJSON_CreateObject(), *msgs, *m;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "anthropic_version", "bedrock-2023-05-31");
	cJSON_AddNumberToObject(o, "max_tokens", max_tokens(req));
	if (req->system && req->system[0])
		cJSON_AddStringToObject(o, "system", req->system);
	msgs = cJSON_AddArrayToObject(o, "messages");
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", req->prompt ? req->prompt : "");
	cJSON_AddItemToArray(msgs, m);
	return print_and_delete(o);
}

static int
usage_int(const cJSON *usage, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, name);

	return cJSON_IsNumber(v) && v->valuedouble >= 0 &&
			       v->valuedouble < 2e9
		       ? (int)v->valuedouble
		       : -1;
}

static cJSON *
parse_object(const char *body, size_t len, char *why, size_t whysize)
{
	cJSON *o = body ? cJSON_ParseWithLength(body, len) : NULL;

	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		snprintf(why, whysize, "invalid JSON in the provider's answer");
		return NULL;
	}
	return o;
}

int
kg_aihttp_anthropic_parse(const char *body, size_t len, struct kg_aihttp_reply *out,
		   char *why, size_t whysize)
{
	cJSON *o = parse_object(body, len, why, whysize);
	const cJSON *content, *part, *usage;
	struct kg_buf text = {0};

	memset(out, 0, sizeof(*out));
	if (!o)
		return -1;
	content = cJSON_GetObjectItemCaseSensitive(o, "content");
	cJSON_ArrayForEach(part, content) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");

		if (cJSON_IsString(t))
			kg_buf_puts(&text, t->valuestring);
	}
	usage = cJSON_GetObjectItemCaseSensitive(o, "usage");
	out->tokens_in = usage_int(usage, "input_tokens");
	out->tokens_out = usage_int(usage, "output_tokens");
	cJSON_Delete(o);
	if (!text.len) {
		kg_buf_free(&text);
		snprintf(why, whysize, "the answer holds no text content");
		return -1;
	}
	out->text = kg_buf_take(&text);
	return 0;
}

static void
add_message(cJSON *msgs, const char *role, const char *content)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddStringToObject(m, "content", content ? content : "");
	cJSON_AddItemToArray(msgs, m);
}

char *
kg_aihttp_chat_body(const struct kg_ai_request *req, const char *model)
{
	cJSON *o = cJSON_CreateObject(), *msgs;

	if (!o)
		return NULL;
	if (model)
		cJSON_AddStringToObject(o, "model", model);
	msgs = cJSON_AddArrayToObject(o, "messages");
	if (req->system && req->system[0])
		add_message(msgs, "system", req->system);
	add_message(msgs, "user", req->prompt);
	cJSON_AddNumberToObject(o, "max_tokens", max_tokens(req));
	return print_and_delete(o);
}

int
kg_aihttp_chat_parse(const char *body, size_t len, struct kg_aihttp_reply *out,
	      char *why, size_t whysize)
{
	cJSON *o = parse_object(body, len, why, whysize);
	const cJSON *choice, *msg, *content, *usage;

	memset(out, 0, sizeof(*out));
	if (!o)
		return -1;
	choice = cJSON_GetArrayItem(
		cJSON_GetObjectItemCaseSensitive(o, "choices"), 0);
	msg = cJSON_GetObjectItemCaseSensitive(choice, "message");
	content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	usage = cJSON_GetObjectItemCaseSensitive(o, "usage");
	out->tokens_in = usage_int(usage, "prompt_tokens");
	out->tokens_out = usage_int(usage, "completion_tokens");
	if (cJSON_IsString(content) && content->valuestring[0])
		out->text = strdup(content->valuestring);
	cJSON_Delete(o);
	if (!out->text) {
		snprintf(why, whysize, "the answer holds no message content");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Classification, Retry-After, error messages, prices */

struct kg_aihttp_outcome
kg_aihttp_classify(CURLcode rc, long status)
{
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return (struct kg_aihttp_outcome){"timeout", 1};
	if (rc != CURLE_OK)
		return (struct kg_aihttp_outcome){"error", 1};
	if (status >= 200 && status < 300)
		return (struct kg_aihttp_outcome){"ok", 0};
	if (status == 429)
		return (struct kg_aihttp_outcome){"rate_limited", 1};
	if (status == 408)
		return (struct kg_aihttp_outcome){"timeout", 1};
	if (status >= 500)
		return (struct kg_aihttp_outcome){"error", 1};
	return (struct kg_aihttp_outcome){"error", 0};
}

long
kg_aihttp_retry_after(const char *retry_after, const char *retry_after_ms,
		      time_t now)
{
	char *end;
	long long v;
	struct tm tm;

	if (retry_after_ms && *retry_after_ms) {
		errno = 0;
		v = strtoll(retry_after_ms, &end, 10);
		if (!errno && end != retry_after_ms && v >= 0 &&
		    v < 86400000LL)
			return (long)v;
	}
	if (!retry_after || !*retry_after)
		return -1;
	errno = 0;
	v = strtoll(retry_after, &end, 10);
	if (!errno && end != retry_after && !*end && v >= 0 && v < 86400)
		return (long)(v * 1000);
	/* HTTP-date (IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT" */
	memset(&tm, 0, sizeof(tm));
	end = strptime(retry_after, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end && !*end) {
		time_t when = timegm(&tm);

		return when > now ? (long)(when - now) * 1000 : 0;
	}
	return -1;
}

static void
first_line(const char *s, size_t len, char *out, size_t outsize)
{
	size_t n = 0;

	while (n < len && s[n] && s[n] != '\n' && s[n] != '\r')
		n++;
	if (n >= outsize)
		n = outsize - 1;
	memcpy(out, s, n);
	out[kg_utf8_whole(out, n)] = '\0';	/* never half a character */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

void
kg_aihttp_error_message(const char *body, size_t len, char *out,
			size_t outsize)
{
	cJSON *o = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "message");

	if (!outsize)
		return;
	out[0] = '\0';
	if (!cJSON_IsString(m))
		m = cJSON_GetObjectItemCaseSensitive(o, "Message");
	if (!cJSON_IsString(m)) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");

		m = cJSON_IsString(e) ? e
				      : cJSON_GetObjectItemCaseSensitive(
						e, "message");
	}
	if (cJSON_IsString(m))
		first_line(m->valuestring, strlen(m->valuestring), out,
			   outsize);
	else if (body && len)
		first_line(body, len, out, outsize);
	cJSON_Delete(o);
}

static int
parse_price(const char *s, size_t len, double *v)
{
	char tmp[32], *end;

	if (!len || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	*v = strtod(tmp, &end);
	return (errno || *end || *v < 0) ? -1 : 0;
}

int
kg_aihttp_price(const char *table, const char *model, int tokens_in,
	    int tokens_out, double *cost)
{
	const char *p = table;
	size_t mlen = model ? strlen(model) : 0;

	*cost = 0;
	while (p && *p && mlen) {
		size_t len = strcspn(p, ",");
		const char *a = p, *b = p + len, *eq = NULL, *colon;
		double in, out;

		p = *b ? b + 1 : b;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		for (const char *q = a; q < b; q++)
			if (*q == '=')
				eq = q;
		if (!eq || (size_t)(eq - a) != mlen || strncmp(a, model, mlen))
			continue;
		colon = memchr(eq + 1, ':', (size_t)(b - eq - 1));
		if (!colon ||
		    parse_price(eq + 1, (size_t)(colon - eq - 1), &in) < 0 ||
		    parse_price(colon + 1, (size_t)(b - colon - 1), &out) < 0)
			return -1;
		*cost = (tokens_in > 0 ? tokens_in : 0) * in / 1000.0 +
			(tokens_out > 0 ? tokens_out : 0) * out / 1000.0;
		return 0;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* The call */

struct aihttp {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	char *model;
	kg_aihttp_parse_fn parse;
	struct kg_buf resp;
	int too_big;
	char retry_after[64], retry_after_ms[32], error_type[96];
	char curl_err[CURL_ERROR_SIZE];
	char error[400];
	long timeout_ms;
};

static void
aihttp_free(struct aihttp *h)
{
	if (!h)
		return;
	if (h->easy)
		curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->headers);
	free(h->body);
	free(h->model);
	kg_buf_free(&h->resp);
	free(h);
}

static size_t
on_write(char *data, size_t size, size_t n, void *arg)
{
	struct aihttp *h = arg;

	if (h->resp.len + size * n > KG_AIHTTP_MAX_BODY ||
	    kg_buf_append(&h->resp, data, size * n) < 0) {
		h->too_big = 1;
		return 0;
	}
	return size * n;
}

/* Keeps a header's value if its name is `name` (case-insensitive). */
static void
keep_header(const char *line, size_t len, const char *name, char *out,
	    size_t outsize)
{
	size_t n = strlen(name), v;

	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return;
	line += n + 1;
	len -= n + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && isspace((unsigned char)line[len - 1]))
		len--;
	v = len < outsize ? len : outsize - 1;
	memcpy(out, line, v);
	out[v] = '\0';
}

static size_t
on_header(char *line, size_t size, size_t n, void *arg)
{
	struct aihttp *h = arg;
	size_t len = size * n;

	/* A new response (after a 100 Continue, say) starts afresh. */
	if (len > 5 && !strncmp(line, "HTTP/", 5))
		h->retry_after[0] = h->retry_after_ms[0] =
			h->error_type[0] = '\0';
	keep_header(line, len, "retry-after", h->retry_after,
		    sizeof(h->retry_after));
	keep_header(line, len, "retry-after-ms", h->retry_after_ms,
		    sizeof(h->retry_after_ms));
	keep_header(line, len, "x-amzn-errortype", h->error_type,
		    sizeof(h->error_type));
	return len;
}

static void
price(struct kg_ai_result *res)
{
	static char warned[128];

	if (kg_aihttp_price(kg_config_str("ai", "prices"), res->model,
			res->tokens_in, res->tokens_out, &res->cost) < 0 &&
	    strcmp(warned, res->model)) {
		snprintf(warned, sizeof(warned), "%s", res->model);
		KG_WARN("model %s has no price in [ai] prices: its calls "
			"are logged at cost 0", res->model);
	}
}

/* The error text of a non-2xx answer: "HTTP 403 InvalidSignature-
 * Exception: The request signature ..." */
static void
http_error(struct aihttp *h, long status)
{
	char msg[256];
	size_t t = strcspn(h->error_type, ":");

	kg_aihttp_error_message(h->resp.data, h->resp.len, msg, sizeof(msg));
	snprintf(h->error, sizeof(h->error), "HTTP %ld%s%.*s%s%s", status,
		 t ? " " : "", (int)t, h->error_type, msg[0] ? ": " : "",
		 msg);
}

static void
on_done(void *arg, CURL *easy, CURLcode rc)
{
	struct kg_ai_call *call = arg;
	struct aihttp *h = call->impl;
	struct kg_ai_result res = {0};
	struct kg_aihttp_reply reply = {0};
	struct kg_aihttp_outcome oc;
	long status = 0;
	char why[200];

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	oc = kg_aihttp_classify(h->too_big ? CURLE_WRITE_ERROR : rc, status);
	res.model = h->model;
	res.outcome = oc.outcome;
	res.retryable = oc.retryable;
	res.retry_after_ms = kg_aihttp_retry_after(h->retry_after,
						   h->retry_after_ms,
						   time(NULL));
	if (h->too_big)
		snprintf(h->error, sizeof(h->error),
			 "answer larger than %zu bytes", KG_AIHTTP_MAX_BODY);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(h->error, sizeof(h->error),
			 "no complete answer within %ld ms", h->timeout_ms);
	else if (rc != CURLE_OK)
		snprintf(h->error, sizeof(h->error), "%s%s%s",
			 curl_easy_strerror(rc), h->curl_err[0] ? ": " : "",
			 h->curl_err);
	else if (strcmp(oc.outcome, "ok"))
		http_error(h, status);
	else if (h->parse(h->resp.data, h->resp.len, &reply, why,
			  sizeof(why)) < 0) {
		res.outcome = "error";
		res.retryable = 1;
		snprintf(h->error, sizeof(h->error), "HTTP %ld: %s", status,
			 why);
	} else {
		res.ok = 1;
		res.text = reply.text;
	}
	if (!res.ok)
		res.error = h->error;
	/* Usage as reported; estimated when the server gives none. */
	res.tokens_in = reply.tokens_in >= 0 ? reply.tokens_in
		: res.ok ? kg_ai_estimate_tokens(call->req->system) +
			   kg_ai_estimate_tokens(call->req->prompt) : 0;
	res.tokens_out = reply.tokens_out >= 0 ? reply.tokens_out
		: kg_ai_estimate_tokens(reply.text);
	price(&res);
	call->impl = NULL;
	kg_ai_finish(call, &res);	/* frees call */
	free(reply.text);
	aihttp_free(h);
}

int
kg_aihttp_header(struct curl_slist **list, const char *name,
		 const char *value)
{
	struct kg_buf line = {0};
	struct curl_slist *l;

	if (kg_buf_printf(&line, "%s: %s", name, value) < 0)
		return -1;
	l = curl_slist_append(*list, line.data);
	kg_buf_free(&line);
	if (!l)
		return -1;
	*list = l;
	return 0;
}

int
kg_aihttp_base(struct kg_buf *b, const char *endpoint)
{
	size_t n = endpoint ? strlen(endpoint) : 0;

	while (n && endpoint[n - 1] == '/')
		n--;
	if (!n || (strncmp(endpoint, "http://", 7) &&
		   strncmp(endpoint, "https://", 8)))
		return -1;
	return kg_buf_append(b, endpoint, n);
}

static int
setup(struct aihttp *h, struct kg_ai_call *call, const char *url)
{
	long connect_ms = (long)kg_config_int("ai", "connect_timeout_ms");
	CURL *e = h->easy;
	int rc = 0;

	h->timeout_ms = call->req->timeout_ms > 0
		? call->req->timeout_ms
		: (long)kg_config_int("ai", "timeout_ms");
	/* curl would add "Expect: 100-continue" to a large POST and wait
	 * for an answer a plain server never sends. */
	if (!curl_slist_append(h->headers, "Expect:"))
		return -1;
	rc |= (int)curl_easy_setopt(e, CURLOPT_URL, url);
	rc |= (int)curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= (int)curl_easy_setopt(e, CURLOPT_POST, 1L);
	rc |= (int)curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body);
	rc |= (int)curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE,
				    (long)strlen(h->body));
	rc |= (int)curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
	rc |= (int)curl_easy_setopt(e, CURLOPT_USERAGENT,
				    "kartograf/" KG_VERSION);
	rc |= (int)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	rc |= (int)curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
	rc |= (int)curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	rc |= (int)curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
	rc |= (int)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->curl_err);
	rc |= (int)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= (int)curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	rc |= (int)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	return rc ? -1 : 0;
}

int
kg_aihttp_start(struct kg_ai_call *call, struct kg_aihttp_spec *spec,
		struct kg_err *err)
{
	struct aihttp *h = calloc(1, sizeof(*h));

	if (h) {
		h->headers = spec->headers;
		h->body = spec->body;
	} else {
		curl_slist_free_all(spec->headers);
		free(spec->body);
	}
	spec->headers = NULL;
	spec->body = NULL;
	if (!h || !h->body || !h->headers ||
	    !(h->model = strdup(spec->model)) ||
	    !(h->easy = curl_easy_init())) {
		aihttp_free(h);
		return kg_err_set(err, 500, "internal", "out of memory");
	}
	h->parse = spec->parse;
	if (setup(h, call, spec->url) < 0) {
		aihttp_free(h);
		return kg_err_set(err, 500, "internal",
				  "cannot set up the HTTP request");
	}
	call->impl = h;
	if (kg_loop_add_easy(call->loop, h->easy, on_done, call, err) < 0) {
		call->impl = NULL;
		aihttp_free(h);
		return -1;
	}
	return 0;
}

int
kg_aihttp_start_chat(struct kg_ai_call *call, const char *url,
		     const char *model, const char *body_model,
		     const char *key_header, const char *key_value,
		     struct kg_err *err)
{
	struct kg_aihttp_spec spec = {.url = url, .model = model,
				      .parse = kg_aihttp_chat_parse};

	spec.body = kg_aihttp_chat_body(call->req, body_model);
	if (!spec.body || !url ||
	    kg_aihttp_header(&spec.headers, "Content-Type",
			     "application/json") < 0 ||
	    (*key_value &&
	     kg_aihttp_header(&spec.headers, key_header, key_value) < 0)) {
		curl_slist_free_all(spec.headers);
		free(spec.body);
		return kg_err_set(err, 500, "internal", "out of memory");
	}
	return kg_aihttp_start(call, &spec, err); /* takes headers, body */
}

void
kg_aihttp_cancel(struct kg_ai_call *call)
{
	struct aihttp *h = call->impl;

	if (!h)
		return;
	kg_loop_remove_easy(call->loop, h->easy);
	aihttp_free(h);
	call->impl = NULL;
}
