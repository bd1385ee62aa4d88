/*
 * GET /api/export/project/{id}  -> the card as .docx
 * GET /api/export/batch/{id}    -> every completed card of the batch and
 *                                  podsumowanie.xlsx as .zip
 *
 * Owner (or admin) only: someone else's project or batch is 404; a card
 * that is not COMPLETED is 409 not_completed, a batch without any 409
 * nothing_to_export.  The worker builds and stores the file and records
 * it in export_history; this program waits for it ([export]
 * wait_timeout, then 504), reads it back from storage, checks its
 * sha256 and streams it (kg_export.h has the whole exchange).  A
 * project version that was exported before is served from storage
 * directly (X-Kartograf-Export: reused; a new build says "built"), and
 * so is a batch's .zip while none of its cards (nor the batch) changed.
 * Storage unreachable -> 503, and nothing is recorded.
 */
#include "kg_app.h"
#include "kg_export.h"
#include "kg_log.h"
#include "kg_req.h"
#include "kg_resp.h"

#include <stdio.h>

/* Stream `data` (the checked bytes of `f`) as an attachment. */
static int
send_file(struct kg_req *req, const struct kg_export_file *f,
	  const struct kg_buf *data, const char *name, const char *fallback,
	  const char *ext, const char *ctype)
{
	struct kg_buf disp = {0};
	char len[24], etag[80];

	if (kg_export_disposition(name, fallback, ext, &disp) < 0) {
		kg_buf_free(&disp);
		return kg_req_fail(req, 500, "internal", "out of memory");
	}
	snprintf(len, sizeof(len), "%zu", data->len);
	snprintf(etag, sizeof(etag), "\"%s\"", f->sha256);
	kg_resp_header(req, "Content-Disposition", kg_buf_str(&disp));
	kg_resp_header(req, "Content-Length", len);
	kg_resp_header(req, "ETag", etag);
	kg_resp_header(req, "X-Kartograf-Export",
		       f->reused ? "reused" : "built");
	kg_buf_free(&disp);
	if (kg_resp_start(req, 200, ctype) < 0)
		return -1;
	/* once the headers are out, a client that hung up is not an error */
	kg_resp_write(req, data->data, data->len);
	return 0;
}

/* The stored file of this project version (or the batch's .zip while
 * no card changed), if it is still intact. */
static int
load_reusable(struct kg_req *req, const struct kg_export_target *t,
	      struct kg_export_file *f, struct kg_buf *data)
{
	struct kg_err err = {0};
	int found = t->version
			    ? kg_export_reusable(t->id, t->version, f, &req->err)
			    : kg_export_reusable_zip(t->id, f, &req->err);

	if (found <= 0)
		return found;
	if (kg_export_load(f, data, &err) == 0)
		return 1;
	/* gone or damaged in storage: build it again */
	KG_WARN("stored export %s unusable (%s), rebuilding", f->key,
		err.message);
	return 0;
}

/*
 * The file the worker just stored.  Not finding it means this host does
 * not see the worker's storage (a `local` directory on another machine):
 * a deployment problem, so 503 rather than a 404 the user cannot act on.
 */
static int
load_built(struct kg_req *req, const struct kg_export_file *f,
	   struct kg_buf *data)
{
	if (kg_export_load(f, data, &req->err) == 0)
		return 0;
	if (req->err.status == 404)
		kg_err_set(&req->err, 503, "storage_unavailable",
			   "the exported file is not in this host's storage");
	return -1;
}

/* A card (t->version > 0) or a batch: reused from storage, or built by
 * the worker now; then streamed. */
static int
serve(struct kg_req *req, const struct kg_export_target *t)
{
	int card = t->version > 0;
	struct kg_export_file f = {0};
	struct kg_buf data = {0};
	int rc = -1, found = load_reusable(req, t, &f, &data);

	if (found < 0)
		goto out;
	if (!found &&
	    (kg_export_request(card ? KG_TASK_EXPORT_DOCX : KG_TASK_EXPORT_ZIP,
			       card ? t->id : NULL, card ? t->batch_id : t->id,
			       req->user.id, &f, &req->err) < 0 ||
	     load_built(req, &f, &data) < 0))
		goto out;
	rc = send_file(req, &f, &data, t->name, card ? "karta" : "karty",
		       card ? ".docx" : ".zip", card ? KG_CT_DOCX : KG_CT_ZIP);
out:
	kg_buf_free(&data);
	return rc;
}

static int
get_project(struct kg_req *req)
{
	struct kg_export_target t;

	if (kg_export_find_project(kg_req_param(req, "id"), &req->user, &t,
				   &req->err) < 0)
		return -1;
	return serve(req, &t);
}

static int
get_batch(struct kg_req *req)
{
	struct kg_export_target t;

	if (kg_export_find_batch(kg_req_param(req, "id"), &req->user, &t,
				 &req->err) < 0)
		return -1;
	return serve(req, &t);
}

static const struct kg_route routes[] = {
	{"GET", "/api/export/project/{id:uuid}", get_project, KG_ROUTE_AUTH,
	 .summary = "A completed card as .docx", .response = KG_CT_DOCX,
	 .errors = "409 504"},
	{"GET", "/api/export/batch/{id:uuid}", get_batch, KG_ROUTE_AUTH,
	 .summary = "Every completed card of a batch and a summary sheet "
		    "as .zip",
	 .response = KG_CT_ZIP, .errors = "409 504"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"export", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
