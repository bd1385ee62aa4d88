/*
 * The project card editor's API (issue 8):
 *
 *   GET   /api/projects/{id}                          -> project + 8 sections
 *   PATCH /api/projects/{id}                          -> edit / review
 *   GET   /api/projects/{id}/sections/{key}/revisions -> history
 *   POST  /api/projects/{id}/sections/{key}/revert    -> back to a revision
 *   POST  /api/projects/{id}/sections/{key}/regenerate -> 202, queued
 *
 * Every change carries the version the client last saw, as "version" in
 * the body or as If-Match: "<version>" (the ETag of GET).  Neither ->
 * 428: an edit that does not say what it was based on could silently
 * overwrite someone else's, which is exactly what the version is for.
 * A stale version (or a project that is not COMPLETED) -> 409 with the
 * current project in "project", so the editor can show what changed.
 * The stale case is 409 with If-Match too (not 412), so a client handles
 * one status whichever way it sent the version.
 *
 * The rules of a change (what counts as an edit, reviewed, history,
 * quality) live in kg_project.h; this file checks the request's shape.
 */
#include "kg_http.h"
#include "kg_log.h"
#include "kg_project.h"
#include "kg_utf8.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_EDITS 64
#define REVISIONS_DEFAULT 50
#define REVISIONS_MAX 500

/* Fields a body may carry; anything else is a 400 (typo guard). */
static int
only_fields(struct kg_req *req, const cJSON *o, const char *const *names)
{
	for (const cJSON *it = o->child; it; it = it->next) {
		size_t k = 0;

		while (names[k] && strcmp(names[k], it->string))
			k++;
		if (!names[k])
			return kg_fail(req, 400, "bad_request",
				       "unknown field \"%.40s\"", it->string);
	}
	return 0;
}

/*
 * cJSON turns the escape \u0000 into a NUL inside the string, which would
 * silently cut the text short at that point; refuse it instead.  (A
 * preceding odd run of backslashes means the backslash is escaped.)
 */
static int
has_nul_escape(const char *s, size_t len)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		size_t k = 0;

		if (s[i] != '\\' || strncasecmp(s + i + 1, "u0000", 5))
			continue;
		while (k < i && s[i - 1 - k] == '\\')
			k++;
		if (k % 2 == 0)
			return 1;
	}
	return 0;
}

/* The body as a JSON object whose text is valid UTF-8 throughout. */
static cJSON *
json_body(struct kg_req *req)
{
	cJSON *body = kg_req_json(req);
	size_t len;
	const char *raw;

	if (!body)
		return NULL;
	raw = kg_req_body(req, &len);
	if (kg_utf8_check(raw, len) != len)
		return kg_fail(req, 400, "invalid_utf8",
			       "request body is not valid UTF-8"), NULL;
	if (has_nul_escape(raw, len))
		return kg_fail(req, 400, "bad_request",
			       "text must not contain NUL (\\u0000)"), NULL;
	return body;
}

static int
positive_int(const cJSON *v, long long max, long long *out)
{
	double d = cJSON_GetNumberValue(v);

	if (!cJSON_IsNumber(v) || d != floor(d) || d < 1 || d > (double)max)
		return -1;
	*out = (long long)d;
	return 0;
}

/* "version" from the body, else If-Match: "<n>"; 428 when neither. */
static int
want_version(struct kg_req *req, const cJSON *body, int *version)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "version");
	const char *im = kg_req_env(req, "HTTP_IF_MATCH");
	long long n = 0, h = 0;
	char *end;

	if (v && positive_int(v, INT_MAX, &n) < 0)
		return kg_fail(req, 400, "bad_request",
			       "version must be a positive integer");
	if (im) {
		if (im[0] != '"' || im[1] < '1' || im[1] > '9')
			return kg_fail(req, 400, "bad_request",
				       "If-Match must be a version ETag "
				       "such as \"3\"");
		h = strtoll(im + 1, &end, 10);
		if (strcmp(end, "\"") || h > INT_MAX)
			return kg_fail(req, 400, "bad_request",
				       "If-Match must be a version ETag "
				       "such as \"3\"");
	}
	if (v && im && n != h)
		return kg_fail(req, 400, "bad_request",
			       "version and If-Match disagree");
	if (!v && !im)
		return kg_fail(req, 428, "version_required",
			       "send the project version you edited, as "
			       "\"version\" or If-Match");
	*version = (int)(v ? n : h);
	return 0;
}

static void
set_etag(struct kg_req *req, const cJSON *project)
{
	char etag[24];

	snprintf(etag, sizeof(etag), "\"%d\"",
		 (int)cJSON_GetNumberValue(
			 cJSON_GetObjectItemCaseSensitive(project, "version")));
	kg_resp_header(req, "ETag", etag);
}

static int
answer_project(struct kg_req *req, int status)
{
	struct kg_buf card = {0};
	char etag[24];
	int version, rc = -1;

	if (kg_project_get_json(kg_req_param(req, "id"), &req->user, &card,
				&version, &req->err) == 0) {
		snprintf(etag, sizeof(etag), "\"%d\"", version);
		kg_resp_header(req, "ETag", etag);
		rc = kg_resp_json_text(req, status, card.data, card.len);
	}
	kg_buf_free(&card);
	return rc;
}

/*
 * A failed change: a 409 carries the project as it now is (it was not
 * changed), everything else is the ordinary error answer.
 */
static int
answer_failure(struct kg_req *req, struct kg_err *err)
{
	struct kg_err again = {0};
	cJSON *o, *p;

	if (err->status != 409) {
		req->err = *err;
		return -1;
	}
	p = kg_project_get(kg_req_param(req, "id"), &req->user, &again);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", err->code);
	cJSON_AddStringToObject(o, "message", err->message);
	cJSON_AddStringToObject(o, "request_id", req->request_id);
	if (p) {
		set_etag(req, p);
		cJSON_AddItemToObject(o, "project", p);
	}
	return kg_resp_json(req, 409, o);
}

/* Publishing is best effort: the change is committed already. */
static int
answer_saved(struct kg_req *req, const struct kg_project_saved *saved,
	     const char *why)
{
	struct kg_err err = {0};

	if (kg_project_publish(kg_req_param(req, "id"), saved, why, &err) < 0)
		KG_WARN("event not published: %s", err.message);
	return answer_project(req, 200);
}

static int
get_project(struct kg_req *req)
{
	return answer_project(req, 200);
}

/* One entry of "sections": {"body": "...", "reviewed": bool}. */
static int
parse_edit(struct kg_req *req, const cJSON *it, struct kg_section_edit *e)
{
	static const char *const fields[] = {"body", "reviewed", NULL};
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(it, "body");
	const cJSON *rev = cJSON_GetObjectItemCaseSensitive(it, "reviewed");
	char *clean;

	if (!cJSON_IsObject(it))
		return kg_fail(req, 400, "bad_request",
			       "sections.%.64s must be an object", it->string);
	if (only_fields(req, it, fields) < 0)
		return -1;
	if ((body && !cJSON_IsString(body)) || (rev && !cJSON_IsBool(rev)))
		return kg_fail(req, 400, "bad_request",
			       "sections.%.64s: body is a string, reviewed "
			       "a boolean", it->string);
	if (!body && !rev)
		return kg_fail(req, 400, "bad_request",
			       "sections.%.64s: nothing to change", it->string);
	e->key = it->string;
	e->reviewed = rev ? cJSON_IsTrue(rev) : -1;
	e->body = NULL;
	if (!body)
		return 0;
	if (kg_project_clean_text(body->valuestring,
				  strlen(body->valuestring),
				  KG_SECTION_MAX_CHARS, &clean, &req->err) < 0)
		return -1;
	e->body = kg_req_strdup(req, clean);
	free(clean);
	return e->body ? 0 : kg_fail(req, 500, "internal", "out of memory");
}

static int
patch_project(struct kg_req *req)
{
	static const char *const fields[] = {"version", "sections", NULL};
	struct kg_section_edit edits[MAX_EDITS];
	struct kg_project_saved saved = {0};
	struct kg_err err = {0};
	const cJSON *sections, *it;
	cJSON *body = json_body(req);
	size_t n = 0;
	int version;

	if (!body || only_fields(req, body, fields) < 0 ||
	    want_version(req, body, &version) < 0)
		return -1;
	sections = cJSON_GetObjectItemCaseSensitive(body, "sections");
	if (!cJSON_IsObject(sections) || !sections->child)
		return kg_fail(req, 400, "bad_request",
			       "sections must be an object naming at least "
			       "one section");
	cJSON_ArrayForEach(it, sections) {
		if (n == MAX_EDITS)
			return kg_fail(req, 400, "bad_request",
				       "too many sections");
		if (parse_edit(req, it, &edits[n++]) < 0)
			return -1;
	}
	if (kg_project_edit(kg_req_param(req, "id"), &req->user, version,
			    edits, n, NULL, &saved, &err) < 0)
		return answer_failure(req, &err);
	return answer_saved(req, &saved, "edited");
}

static int
get_revisions(struct kg_req *req)
{
	long long limit, offset;
	cJSON *o;

	if (kg_req_query_int(req, "limit", REVISIONS_DEFAULT, 1, REVISIONS_MAX,
			     &limit) < 0 ||
	    kg_req_query_int(req, "offset", 0, 0, 1000000000, &offset) < 0)
		return -1;
	o = kg_project_revisions(kg_req_param(req, "id"),
				 kg_req_param(req, "key"), &req->user, limit,
				 offset, &req->err);
	return o ? kg_resp_json(req, 200, o) : -1;
}

static int
post_revert(struct kg_req *req)
{
	static const char *const fields[] = {"version", "revision_id", NULL};
	struct kg_project_saved saved = {0};
	struct kg_err err = {0};
	cJSON *body = json_body(req);
	long long rev;
	int version;

	if (!body || only_fields(req, body, fields) < 0)
		return -1;
	if (positive_int(cJSON_GetObjectItemCaseSensitive(body, "revision_id"),
			 LLONG_MAX / 2, &rev) < 0)
		return kg_fail(req, 400, "bad_request",
			       "revision_id must be a revision's id");
	if (want_version(req, body, &version) < 0)
		return -1;
	if (kg_project_revert(kg_req_param(req, "id"), &req->user, version,
			      kg_req_param(req, "key"), rev, &saved,
			      &err) < 0)
		return answer_failure(req, &err);
	return answer_saved(req, &saved, "reverted");
}

static int
post_regenerate(struct kg_req *req)
{
	static const char *const fields[] = {"version", "instruction", NULL};
	const cJSON *ins;
	struct kg_err err = {0};
	cJSON *body = json_body(req), *o;
	char *clean = NULL;
	int version, rc;

	if (!body || only_fields(req, body, fields) < 0 ||
	    want_version(req, body, &version) < 0)
		return -1;
	ins = cJSON_GetObjectItemCaseSensitive(body, "instruction");
	if (ins && !cJSON_IsNull(ins) && !cJSON_IsString(ins))
		return kg_fail(req, 400, "bad_request",
			       "instruction must be a string");
	if (cJSON_IsString(ins) &&
	    kg_project_clean_text(ins->valuestring, strlen(ins->valuestring),
				  KG_INSTRUCTION_MAX_CHARS, &clean,
				  &req->err) < 0)
		return -1;
	rc = kg_project_request_regeneration(kg_req_param(req, "id"),
					     kg_req_param(req, "key"),
					     &req->user, version, clean, &err);
	free(clean);
	if (rc < 0)
		return answer_failure(req, &err);
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "queued", 1);
	cJSON_AddStringToObject(o, "section", kg_req_param(req, "key"));
	cJSON_AddNumberToObject(o, "version", version);
	return kg_resp_json(req, 202, o);
}

#define SECTION "/api/projects/{id:uuid}/sections/{key:key}"

static const struct kg_route routes[] = {
	{"GET", "/api/projects/{id:uuid}", get_project, KG_ROUTE_AUTH},
	{"PATCH", "/api/projects/{id:uuid}", patch_project, KG_ROUTE_AUTH},
	{"GET", SECTION "/revisions", get_revisions, KG_ROUTE_AUTH},
	{"POST", SECTION "/revert", post_revert, KG_ROUTE_AUTH},
	{"POST", SECTION "/regenerate", post_regenerate, KG_ROUTE_AUTH},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"project", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
