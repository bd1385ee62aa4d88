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
#include "kg_csv.h"
#include "kg_http.h"
#include "kg_log.h"
#include "kg_multipart.h"
#include "kg_rows.h"
#include "kg_sched.h"
#include "kg_xlsx.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

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
	if (up->file.len >= 4 && !memcmp(d, "PK\x03\x04", 4))
		return kg_xlsx_read(up->file.data, up->file.len, &lim,
				    kg_rows_feed, rows, &req->err);
	if (up->file.len >= 4 && !memcmp(d, "\xd0\xcf\x11\xe0", 4))
		return kg_fail(req, 400, "unsupported_format",
			       "this is an old Excel .xls file: save it as "
			       ".xlsx (Plik > Zapisz jako > Skoroszyt "
			       "programu Excel) and upload again");
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

static int
create_batch(struct kg_req *req, struct upload *up, struct kg_rows *rows)
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
	struct upload up = {0};
	struct kg_rows rows;
	int rc;

	kg_rows_init(&rows);
	rc = read_upload(req, &up);
	if (rc == 0)
		rc = parse_file(req, &up, &rows);
	kg_buf_free(&up.file);
	if (rc == 0 && kg_rows_finish(&rows) > 0)
		rc = answer_invalid(req, &rows);
	else if (rc == 0)
		rc = create_batch(req, &up, &rows);
	kg_buf_free(&up.name);
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
	{"POST", "/api/batches", post_batches, KG_ROUTE_AUTH},
	{"GET", "/api/batches", get_batches, KG_ROUTE_AUTH},
	{"GET", "/api/batches/{id:uuid}", get_batch, KG_ROUTE_AUTH},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"batches", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
