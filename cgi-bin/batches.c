/*
 * Batches: upload a spreadsheet, list and read batches.
 *
 *   POST /api/batches          multipart/form-data (field "file", optional
 *                              field "name"), or the raw file as the body
 *                              (xlsx or text/csv content type)
 *        -> 201 the new batch with its projects
 *        -> 400 {"error":"validation_failed","errors":[{row,column,field,
 *               code,message}],"template_url":"/api/template.xlsx"}
 *        -> 400 unreadable / hostile file, 413 too large, 415 other types,
 *           422 too many rows
 *   GET  /api/batches          mine, newest first (?limit=&offset=, ?all=1
 *                              for admins)
 *   GET  /api/batches/{id}     one batch with its projects' statuses
 *   PATCH /api/batches/{id}    {"name"?, "cost_cap"?} -> 200 the batch
 *                              (+ "stopped": n when the new cap stopped it)
 *   DELETE /api/batches/{id}   -> 200 {"deleted": "batch", "id", ...}; 409 batch_busy while generating,
 *                              503 when stored files cannot be removed
 *                              (then nothing is deleted)
 *
 * The upload is read inside the one transaction that creates the batch:
 * each valid row goes into a COPY as soon as it is validated (no row is
 * kept in memory); a file with any error is rolled back whole and
 * answered with every error, and a failure of the database leaves
 * nothing half-created either.
 */
#include "kg_app.h"
#include "kg_batch.h"
#include "kg_body.h"
#include "kg_clock.h"
#include "kg_config.h"
#include "kg_log.h"
#include "kg_req.h"
#include "kg_resp.h"
#include "kg_rows.h"
#include "kg_sched.h"
#include "kg_sheet.h"

#include <stdio.h>
#include <stdlib.h>

#define TEMPLATE_URL "/api/template.xlsx"
#define NAME_MAX_BYTES 300

/* The upload, into rows (kg_batch_read_fn: kg_batch_import calls it
 * with the COPY open, and again if its transaction is retried). */
struct upload {
	struct kg_req *req;
	struct kg_req_upload *up;
};

static int
read_rows(void *arg, struct kg_rows *rows, struct kg_err *err)
{
	struct upload *u = arg;
	struct kg_sheet_limits lim;

	kg_sheet_limits_default(&lim);
	lim.max_file = (size_t)kg_config_int("http", "max_body");
	return kg_sheet_read_spool(&u->up->file, u->up->filename,
				   kg_req_env(u->req, "CONTENT_TYPE"), &lim,
				   kg_rows_feed, rows, err);
}

static int
answer_invalid(struct kg_req *req, struct kg_rows *rows)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "error", "validation_failed");
	cJSON_AddStringToObject(o, "message",
				"Plik zawiera błędy. Popraw je i wyślij "
				"ponownie albo pobierz szablon.");
	cJSON_AddItemToObject(o, "errors", rows->errors);
	rows->errors = NULL;
	cJSON_AddStringToObject(o, "template_url", TEMPLATE_URL);
	return kg_resp_json(req, 400, o);
}

/* The form's "name", else the file's name without its extension. */
static void
batch_name(struct kg_req_upload *up, char *out, size_t size)
{
	const char *name = kg_buf_str(&up->text);

	if (*name)
		snprintf(out, size, "%s", name);
	else
		kg_sheet_title(up->filename, out, size);
	if (!*out)
		snprintf(out, size, "Import");
}

/* Where an upload's server time goes (logged with each new batch). */
struct split {
	int64_t mark_us;
	double read, import, answer;	/* ms */
};

static double
lap(struct split *t)
{
	double ms = kg_clock_ms_since(t->mark_us);

	t->mark_us = kg_clock_us();
	return ms;
}

static int
answer_created(struct kg_req *req, const char *id, struct kg_rows *rows,
	       struct split *t)
{
	struct kg_buf batch = {0};
	int rc = -1;

	if (kg_batch_get_json(id, &req->user, 1, &batch, NULL, &req->err) == 0)
		rc = kg_resp_json_text(req, 201, batch.data, batch.len);
	t->answer = lap(t);
	KG_INFO("batch %s created: %u projects; upload split: read %.1f ms, "
		"parse + insert %.1f ms (validate %.1f ms, COPY rows %.1f ms), "
		"answer %.1f ms (%zu bytes)", id, rows->nsent, t->read,
		t->import, rows->feed_ms - rows->sink_ms, rows->sink_ms,
		t->answer, batch.len);
	kg_buf_free(&batch);
	return rc;
}

/* Read, validate and store in one pass (kg_batch_import): the rows go
 * into the database as they are validated, and nowhere else. */
static int
post_batches(struct kg_req *req)
{
	static const char *const raw_types[] = KG_SHEET_RAW_TYPES;
	struct kg_req_upload up = {.text_field = "name",
			       .text_max = NAME_MAX_BYTES};
	struct upload u = {req, &up};
	struct kg_rows rows;
	struct split t = {0};
	char id[37], name[320];
	int rc;

	kg_rows_init(&rows);
	t.mark_us = kg_clock_us();
	rc = kg_req_upload(req, raw_types, &up);
	t.read = lap(&t);
	if (rc == 0) {
		batch_name(&up, name, sizeof(name));
		rc = kg_batch_import(&req->user, name,
				     up.filename[0] ? up.filename : NULL,
				     read_rows, &u, &rows, id, &req->err);
		t.import = lap(&t);
		if (rc == 1)
			rc = answer_invalid(req, &rows);
		else if (rc == 0)
			rc = answer_created(req, id, &rows, &t);
	}
	kg_req_upload_free(&up);
	kg_rows_free(&rows);
	return rc;
}

static int
get_batches(struct kg_req *req)
{
	long long limit, offset, all;
	struct kg_buf list = {0};
	int rc = -1;

	if (kg_req_query_int(req, "limit", 50, 1, 200, &limit) < 0 ||
	    kg_req_query_int(req, "offset", 0, 0, 1000000000, &offset) < 0 ||
	    kg_req_query_int(req, "all", 0, 0, 1, &all) < 0)
		return -1;
	if (kg_batch_list_json(&req->user, (int)all, limit, offset, &list,
			       &req->err) == 0)
		rc = kg_resp_json_text(req, 200, list.data, list.len);
	kg_buf_free(&list);
	return rc;
}

/* "queue" (kg_sched) is the batch object's last member, after its
 * projects; without Redis the batch is still shown, without it. */
static int
add_queue(struct kg_buf *batch, const char *id,
	  const struct kg_batch_counts *n)
{
	struct kg_err ignored = {0};
	cJSON *queue = kg_sched_queue(id, n->queued, n->generating, &ignored);
	char *q = queue ? cJSON_PrintUnformatted(queue) : NULL;
	int rc = 0;

	cJSON_Delete(queue);
	if (q) {
		batch->data[--batch->len] = '\0';	/* reopen the object */
		rc = kg_buf_printf(batch, ",\"queue\":%s}", q);
	}
	free(q);
	return rc;
}

static int
get_batch(struct kg_req *req)
{
	const char *id = kg_req_param(req, "id");
	struct kg_batch_counts n;
	struct kg_buf batch = {0};
	int rc = -1;

	if (kg_batch_get_json(id, &req->user, 1, &batch, &n, &req->err) < 0)
		goto out;
	if (add_queue(&batch, id, &n) < 0)
		kg_req_fail(req, 500, "internal", "out of memory");
	else
		rc = kg_resp_json_text(req, 200, batch.data, batch.len);
out:
	kg_buf_free(&batch);
	return rc;
}

/* PATCH /api/batches/{id}: the shape here; the name's other rules (not
 * blank, no control characters) and the stop a low cap causes are
 * kg_batch_update's.  cost_cap null = remove the cap. */
static const struct kg_body_field patch_body[] = {
	{"name", KG_BODY_STRING, .min = 1, .max = 300,
	 .what = "the batch's new name (1-300 characters)"},
	{"cost_cap", KG_BODY_NUMBER, KG_BODY_NULLABLE, .min = 0, .max = 999999,
	 .what = "a cost cap in USD (0-999999), or null for none"},
	{0},
};

static int
patch_batch(struct kg_req *req)
{
	cJSON *body = kg_req_json(req), *o;
	int stopped;

	if (!body)
		return -1;
	o = kg_batch_update(kg_req_param(req, "id"), &req->user, body,
			    &stopped, &req->err);
	if (!o)
		return -1;
	cJSON_AddNumberToObject(o, "stopped", stopped);
	return kg_resp_json(req, 200, o);
}

static int
delete_batch(struct kg_req *req)
{
	if (kg_batch_delete(kg_req_param(req, "id"), NULL, &req->user, NULL,
			    &req->err) < 0)
		return -1;
	return kg_resp_json(req, 200, kg_batch_deleted_json(
		"batch", kg_req_param(req, "id"), 1));
}

static const struct kg_route routes[] = {
	{"POST", "/api/batches", post_batches, KG_ROUTE_AUTH,
	 .summary = "Upload a spreadsheet (.xlsx or CSV): a new batch with "
		    "its projects, or every validation error at once",
	 .response = "Batch", .status = 201, .request = "Upload",
	 .errors = "413 415 422"},
	{"GET", "/api/batches", get_batches, KG_ROUTE_AUTH,
	 .summary = "My batches, newest first (?limit=1..200, default 50; "
		    "?offset=; ?all=1 for every user's, admins only)",
	 .response = "BatchList"},
	{"GET", "/api/batches/{id:uuid}", get_batch, KG_ROUTE_AUTH,
	 .summary = "One batch with its projects' statuses",
	 .response = "Batch"},
	{"PATCH", "/api/batches/{id:uuid}", patch_batch, KG_ROUTE_AUTH,
	 patch_body, .summary = "Rename a batch or set its cost cap (USD)",
	 .response = "Batch", .errors = "409"},
	{"DELETE", "/api/batches/{id:uuid}", delete_batch, KG_ROUTE_AUTH,
	 .summary = "Delete a batch, its cards and its stored files",
	 .response = "Deleted", .errors = "409 503"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"batches", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
