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
 * The upload is validated completely before anything is written; then
 * one transaction creates the batch and all its projects, so a failure
 * leaves nothing half-created.
 */
#include "kg_batch.h"
#include "kg_config.h"
#include "kg_csv.h"
#include "kg_http.h"
#include "kg_log.h"
#include "kg_multipart.h"
#include "kg_rows.h"
#include "kg_sched.h"
#include "kg_xlsx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TEMPLATE_URL "/api/template.xlsx"
#define XLSX_TYPE \
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

struct upload {
	struct kg_buf file;
	struct kg_buf name;
	char filename[256];
	int file_parts;
	int in_file;		/* current part is the file */
	int in_name;		/* current part is the "name" field */
};

static int
on_part(void *arg, const struct kg_multipart_part *part, struct kg_err *err)
{
	struct upload *up = arg;

	up->in_file = !strcmp(part->name, "file");
	up->in_name = !strcmp(part->name, "name");
	if (up->in_file && ++up->file_parts > 1)
		return kg_err_set(err, 400, "bad_request",
				  "send exactly one file in the field "
				  "\"file\"");
	if (up->in_file)
		snprintf(up->filename, sizeof(up->filename), "%s",
			 part->filename);
	return 0;
}

static int
on_data(void *arg, const struct kg_multipart_part *part, const char *data,
	size_t len, struct kg_err *err)
{
	struct upload *up = arg;

	(void)part;
	if (up->in_name && up->name.len + len > 300)
		return kg_err_set(err, 400, "bad_request",
				  "batch name too long (max 300)");
	if ((up->in_file && kg_buf_append(&up->file, data, len) < 0) ||
	    (up->in_name && kg_buf_append(&up->name, data, len) < 0))
		return kg_err_set(err, 500, "internal", "out of memory");
	return 0;
}

static int
feed_multipart(void *arg, const char *data, size_t len, struct kg_err *err)
{
	(void)err;
	return kg_multipart_feed(arg, data, len);
}

static int
feed_raw(void *arg, const char *data, size_t len, struct kg_err *err)
{
	if (kg_buf_append(arg, data, len) < 0)
		return kg_err_set(err, 500, "internal", "out of memory");
	return 0;
}

static const struct kg_multipart_cb upload_cb = {on_part, on_data};

static int
is_type(const char *ct, const char *type)
{
	size_t n = strlen(type);

	return ct && !strncasecmp(ct, type, n) &&
	       (!ct[n] || ct[n] == ';' || ct[n] == ' ');
}

/* Reads the upload into up->file (multipart or raw body). */
static int
read_upload(struct kg_req *req, struct upload *up)
{
	const char *ct = kg_req_env(req, "CONTENT_TYPE");
	struct kg_multipart mp;
	int rc;

	if (is_type(ct, "multipart/form-data")) {
		if (kg_multipart_init(&mp, ct, &upload_cb, up, &req->err) < 0) {
			kg_multipart_free(&mp);
			return -1;
		}
		rc = kg_req_body_each(req, feed_multipart, &mp);
		if (rc == 0)
			rc = kg_multipart_finish(&mp);
		kg_multipart_free(&mp);
		if (rc == 0 && !up->file_parts)
			return kg_fail(req, 400, "bad_request",
				       "no file: send it in the form field "
				       "\"file\"");
		return rc;
	}
	if (is_type(ct, XLSX_TYPE) || is_type(ct, "text/csv") ||
	    is_type(ct, "application/octet-stream"))
		return kg_req_body_each(req, feed_raw, &up->file);
	return kg_fail(req, 415, "unsupported_media_type",
		       "send the spreadsheet as multipart/form-data (field "
		       "\"file\") or as the body with Content-Type %s or "
		       "text/csv", XLSX_TYPE);
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcasecmp(s + n - m, suffix);
}

/* xlsx by its zip signature; CSV by name or declared type; the old
 * binary .xls gets a message of its own because users do upload it. */
static int
parse_file(struct kg_req *req, struct upload *up, struct kg_rows *rows)
{
	const unsigned char *d = (const unsigned char *)up->file.data;
	const char *ct = kg_req_env(req, "CONTENT_TYPE");
	struct kg_sheet_limits lim;

	kg_sheet_limits_default(&lim);
	lim.max_file = (size_t)kg_conf_int("http", "max_body");
	if (up->file.len == 0)
		return kg_fail(req, 400, "empty_file", "the file is empty");
	/* a zip, or an OLE2 file: an old .xls or a password-protected
	 * .xlsx, which the reader tells apart and refuses in its words */
	if (up->file.len >= 4 && (!memcmp(d, "PK\x03\x04", 4) ||
				  !memcmp(d, "\xd0\xcf\x11\xe0", 4)))
		return kg_xlsx_read(up->file.data, up->file.len, &lim,
				    kg_rows_feed, rows, &req->err);
	if (has_suffix(up->filename, ".csv") || is_type(ct, "text/csv"))
		return kg_csv_read(up->file.data, up->file.len, &lim,
				   kg_rows_feed, rows, &req->err);
	return kg_fail(req, 400, "not_xlsx",
		       "the file is neither an .xlsx workbook nor a CSV file");
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

static void
batch_name(struct upload *up, char *out, size_t size)
{
	const char *name = kg_buf_str(&up->name);
	size_t n;

	if (*name) {
		snprintf(out, size, "%s", name);
		return;
	}
	n = strlen(up->filename);
	if (has_suffix(up->filename, ".xlsx"))
		n -= 5;
	else if (has_suffix(up->filename, ".csv"))
		n -= 4;
	if (n)
		snprintf(out, size, "%.*s", (int)n, up->filename);
	else
		snprintf(out, size, "Import");
}

/* Where an upload's server time goes (logged with each new batch). */
struct split {
	struct timespec mark;
	double read, parse, insert, answer;	/* ms */
};

static double
lap(struct split *t)
{
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - t->mark.tv_sec) * 1e3 +
	     (double)(now.tv_nsec - t->mark.tv_nsec) / 1e6;
	t->mark = now;
	return ms;
}

static int
create_batch(struct kg_req *req, struct upload *up, struct kg_rows *rows,
	     struct split *t)
{
	char id[37], name[320];
	struct kg_buf batch = {0};
	int rc = -1;

	batch_name(up, name, sizeof(name));
	if (kg_batch_create(&req->user, name,
			    up->filename[0] ? up->filename : NULL,
			    rows->projects, id, &req->err) < 0)
		return -1;
	t->insert = lap(t);
	if (kg_batch_get_json(id, &req->user, 1, &batch, NULL, &req->err) == 0)
		rc = kg_resp_json_text(req, 201, batch.data, batch.len);
	t->answer = lap(t);
	KG_INFO("batch %s created: %d projects; upload split: read %.1f ms, "
		"parse %.1f ms, validate %.1f ms, insert %.1f ms, answer "
		"%.1f ms (%zu bytes)", id, cJSON_GetArraySize(rows->projects),
		t->read, t->parse - rows->feed_ms, rows->feed_ms, t->insert,
		t->answer, batch.len);
	kg_buf_free(&batch);
	return rc;
}

static int
post_batches(struct kg_req *req)
{
	struct upload up = {0};
	struct kg_rows rows;
	struct split t = {0};
	int rc;

	kg_rows_init(&rows);
	lap(&t);
	rc = read_upload(req, &up);
	t.read = lap(&t);
	if (rc == 0)
		rc = parse_file(req, &up, &rows);
	kg_buf_free(&up.file);
	t.parse = lap(&t);
	if (rc == 0 && kg_rows_finish(&rows) > 0)
		rc = answer_invalid(req, &rows);
	else if (rc == 0)
		rc = create_batch(req, &up, &rows, &t);
	kg_buf_free(&up.name);
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
		kg_fail(req, 500, "internal", "out of memory");
	else
		rc = kg_resp_json_text(req, 200, batch.data, batch.len);
out:
	kg_buf_free(&batch);
	return rc;
}

/* PATCH /api/batches/{id}: the shape here; the name's other rules (not
 * blank, no control characters) and the stop a low cap causes are
 * kg_batch_update's.  cost_cap null = remove the cap. */
static const struct kg_field patch_body[] = {
	{"name", KG_STRING, .min = 1, .max = 300,
	 .what = "the batch's new name (1-300 characters)"},
	{"cost_cap", KG_NUMBER, KG_NULLABLE, .min = 0, .max = 999999,
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
	{"POST", "/api/batches", post_batches, KG_ROUTE_AUTH},
	{"GET", "/api/batches", get_batches, KG_ROUTE_AUTH},
	{"GET", "/api/batches/{id:uuid}", get_batch, KG_ROUTE_AUTH},
	{"PATCH", "/api/batches/{id:uuid}", patch_batch, KG_ROUTE_AUTH,
	 patch_body, .summary = "Rename a batch or set its cost cap (USD)",
	 .response = "Batch"},
	{"DELETE", "/api/batches/{id:uuid}", delete_batch, KG_ROUTE_AUTH,
	 .summary = "Delete a batch, its cards and its stored files",
	 .response = "Deleted"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"batches", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
