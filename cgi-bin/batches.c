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
 *
 * The upload is validated completely before anything is written; then
 * one transaction creates the batch and all its projects, so a failure
 * leaves nothing half-created.
 */
#include "kg_batch.h"
#include "kg_config.h"
#include "kg_http.h"
#include "kg_log.h"
#include "kg_rows.h"
#include "kg_sched.h"
#include "kg_sheet.h"

#include <stdio.h>

#define TEMPLATE_URL "/api/template.xlsx"
#define NAME_MAX_BYTES 300

/* The upload, into rows (kg_rows_feed collects them all first). */
static int
read_rows(struct kg_req *req, struct kg_upload *up, struct kg_rows *rows)
{
	static const char *const raw_types[] = KG_SHEET_RAW_TYPES;
	struct kg_sheet_limits lim;

	if (kg_req_upload(req, raw_types, up) < 0)
		return -1;
	kg_sheet_limits_default(&lim);
	lim.max_file = (size_t)kg_conf_int("http", "max_body");
	return kg_sheet_read(up->file.data, up->file.len, up->filename,
			     kg_req_env(req, "CONTENT_TYPE"), &lim,
			     kg_rows_feed, rows, &req->err);
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
batch_name(struct kg_upload *up, char *out, size_t size)
{
	const char *name = kg_buf_str(&up->text);

	if (*name)
		snprintf(out, size, "%s", name);
	else
		kg_sheet_title(up->filename, out, size);
	if (!*out)
		snprintf(out, size, "Import");
}

static int
create_batch(struct kg_req *req, struct kg_upload *up, struct kg_rows *rows)
{
	char id[37], name[320];
	cJSON *batch;

	batch_name(up, name, sizeof(name));
	if (kg_batch_create(&req->user, name,
			    up->filename[0] ? up->filename : NULL,
			    rows->projects, id, &req->err) < 0)
		return -1;
	KG_INFO("batch %s created: %d projects", id,
		cJSON_GetArraySize(rows->projects));
	batch = kg_batch_get(id, &req->user, 1, &req->err);
	if (!batch)
		return -1;
	return kg_resp_json(req, 201, batch);
}

static int
post_batches(struct kg_req *req)
{
	struct kg_upload up = {.text_field = "name",
			       .text_max = NAME_MAX_BYTES};
	struct kg_rows rows;
	int rc;

	kg_rows_init(&rows);
	rc = read_rows(req, &up, &rows);
	kg_buf_free(&up.file);
	if (rc == 0 && kg_rows_finish(&rows) > 0)
		rc = answer_invalid(req, &rows);
	else if (rc == 0)
		rc = create_batch(req, &up, &rows);
	kg_upload_free(&up);
	kg_rows_free(&rows);
	return rc;
}

static int
get_batches(struct kg_req *req)
{
	long long limit, offset, all;
	cJSON *o;

	if (kg_req_query_int(req, "limit", 50, 1, 200, &limit) < 0 ||
	    kg_req_query_int(req, "offset", 0, 0, 1000000000, &offset) < 0 ||
	    kg_req_query_int(req, "all", 0, 0, 1, &all) < 0)
		return -1;
	o = kg_batch_list(&req->user, (int)all, limit, offset, &req->err);
	return o ? kg_resp_json(req, 200, o) : -1;
}

static int
get_batch(struct kg_req *req)
{
	cJSON *o = kg_batch_get(kg_req_param(req, "id"), &req->user, 1,
				&req->err);

	struct kg_err ignored = {0};

	/* Without Redis the batch is still shown, without "queue". */
	if (o)
		kg_sched_describe(o, &ignored);
	return o ? kg_resp_json(req, 200, o) : -1;
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
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"batches", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
