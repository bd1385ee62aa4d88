/*
 * The project card editor's API (issue 8):
 *
 *   GET   /api/projects/{id}                          -> project + 8 sections
 *   PATCH /api/projects/{id}                          -> edit / review
 *   GET   /api/projects/{id}/sections/{key}/revisions -> history
 *   POST  /api/projects/{id}/sections/{key}/revert    -> back to a revision
 *   POST  /api/projects/{id}/sections/{key}/regenerate -> 202, queued
 *   DELETE /api/projects/{id}                         -> the card removed
 *         from its batch (kg_batch_delete: 409 batch_busy while it is
 *         queued or generating, 503 if its stored files cannot go)
 *
 * Every change carries the version the client last saw, as "version" in
 * the body or as If-Match: "<version>" (the ETag of GET); neither ->
 * 428 (KG_ROUTE_VERSION, kg_req.h).  A stale version (or a project that is not COMPLETED) -> 409 with the
 * current project in "project", so the editor can show what changed.
 * The stale case is 409 with If-Match too (not 412), so a client handles
 * one status whichever way it sent the version.
 *
 * The bodies are declared below and checked by the framework before a
 * handler runs; the rules of a change (what counts as an edit, reviewed,
 * history, quality) live in kg_project.h.
 */
#include "kg_app.h"
#include "kg_batch.h"
#include "kg_body.h"
#include "kg_log.h"
#include "kg_project.h"
#include "kg_req.h"
#include "kg_resp.h"

#include <limits.h>
#include <stdio.h>

#define MAX_EDITS 64
#define REVISIONS_DEFAULT 50
#define REVISIONS_MAX 500

/* ---- bodies ------------------------------------------------------------ */

/* One entry of "sections": what to change in that section. */
static const struct kg_body_field section_edit[] = {
	{"body", KG_BODY_TEXT, .max = KG_SECTION_MAX_CHARS},
	{"reviewed", KG_BODY_BOOL},
	{0},
};

static const struct kg_body_field patch_body[] = {
	KG_BODY_VERSION_FIELD,
	{"sections", KG_BODY_MAP, KG_BODY_REQUIRED, .min = 1, .max = MAX_EDITS,
	 .of = &(const struct kg_body_field){"section_edit", KG_BODY_OBJECT,
					     .min = 1, .fields = section_edit},
	 .what = "an object naming at least one section"},
	{0},
};

static const struct kg_body_field revert_body[] = {
	KG_BODY_VERSION_FIELD,
	{"revision_id", KG_BODY_INT, KG_BODY_REQUIRED, .min = 1,
	 .max = LLONG_MAX / 2, .what = "a revision's id"},
	{0},
};

static const struct kg_body_field regenerate_body[] = {
	KG_BODY_VERSION_FIELD,
	{"instruction", KG_BODY_TEXT, KG_BODY_NULLABLE,
	 .max = KG_INSTRUCTION_MAX_CHARS},
	{0},
};

/* ---- answers ----------------------------------------------------------- */

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

	if (kg_project_get_json(kg_req_param(req, "id"), &req->user,
				&req->session, &card, &version,
				&req->err) == 0) {
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
	p = kg_project_get(kg_req_param(req, "id"), &req->user, &req->session,
			   &again);
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

static int
patch_project(struct kg_req *req)
{
	struct kg_section_edit edits[MAX_EDITS];
	struct kg_project_saved saved = {0};
	struct kg_err err = {0};
	const cJSON *it;
	size_t n = 0;

	cJSON_ArrayForEach(it, kg_body_get(req->json, "sections")) {
		edits[n].key = it->string;
		edits[n].body = kg_body_str(it, "body");
		edits[n++].reviewed = kg_body_bool(it, "reviewed", -1);
	}
	if (kg_project_edit(kg_req_param(req, "id"), &req->user,
			    kg_req_version(req), edits, n, NULL, &saved,
			    &err) < 0)
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
	struct kg_project_saved saved = {0};
	struct kg_err err = {0};

	if (kg_project_revert(kg_req_param(req, "id"), &req->user,
			      kg_req_version(req), kg_req_param(req, "key"),
			      kg_body_int(req->json, "revision_id", 0), &saved,
			      &err) < 0)
		return answer_failure(req, &err);
	return answer_saved(req, &saved, "reverted");
}

static int
post_regenerate(struct kg_req *req)
{
	struct kg_err err = {0};
	cJSON *o;

	if (kg_project_request_regeneration(
		    kg_req_param(req, "id"), kg_req_param(req, "key"),
		    &req->user, kg_req_version(req),
		    kg_body_str(req->json, "instruction"), &err) < 0)
		return answer_failure(req, &err);
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "queued", 1);
	cJSON_AddStringToObject(o, "section", kg_req_param(req, "key"));
	cJSON_AddNumberToObject(o, "version", kg_req_version(req));
	return kg_resp_json(req, 202, o);
}

static int
delete_project(struct kg_req *req)
{
	const char *id = kg_req_param(req, "id");
	int batch_gone = 0;

	if (kg_batch_delete(NULL, id, &req->user, &batch_gone, &req->err) < 0)
		return -1;
	return kg_resp_json(req, 200,
			    kg_batch_deleted_json("project", id, batch_gone));
}

#define SECTION "/api/projects/{id:uuid}/sections/{key:key}"

#define CHANGE (KG_ROUTE_AUTH | KG_ROUTE_VERSION)

static const struct kg_route routes[] = {
	{"GET", "/api/projects/{id:uuid}", get_project,
	 KG_ROUTE_AUTH | KG_ROUTE_AUTH_INLINE,
	 .summary = "A project card: the project and its sections",
	 .response = "Project"},
	{"PATCH", "/api/projects/{id:uuid}", patch_project, CHANGE, patch_body,
	 .summary = "Edit or mark reviewed some sections",
	 .response = "Project"},
	{"DELETE", "/api/projects/{id:uuid}", delete_project, KG_ROUTE_AUTH,
	 .summary = "Remove a card from its batch (and its stored files)",
	 .response = "Deleted", .errors = "409 503"},
	{"GET", SECTION "/revisions", get_revisions, KG_ROUTE_AUTH,
	 .summary = "A section's history, newest first",
	 .response = "Revisions", .errors = "422"},
	{"POST", SECTION "/revert", post_revert, CHANGE, revert_body,
	 .summary = "Put a section back to one of its revisions",
	 .response = "Project"},
	{"POST", SECTION "/regenerate", post_regenerate, CHANGE,
	 regenerate_body,
	 .summary = "Ask the AI to write a section again (queued)",
	 .response = "RegenerateQueued", .status = 202},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"project", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
