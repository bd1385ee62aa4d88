/*
 * kg_req - file uploads (kg_req_upload in kg_req.h): a
 * multipart/form-data form or the raw file as the body, read through
 * the same body limit as everything else.
 */
#include "kg_req.h"
#include "kg_log.h"
#include "kg_multipart.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int
on_part(void *arg, const struct kg_multipart_part *part, struct kg_err *err)
{
	struct kg_req_upload *up = arg;

	up->in_file = !strcmp(part->name, "file");
	up->in_text = up->text_field && !strcmp(part->name, up->text_field);
	if (up->in_file && ++up->files > 1)
		return kg_err_set(err, 400, "bad_request",
				  "send exactly one file in the field "
				  "\"file\"");
	if (up->in_file)
		snprintf(up->filename, sizeof(up->filename), "%s",
			 part->filename);
	return 0;
}

static int
spool_failed(struct kg_err *err)
{
	KG_ERROR("upload not stored: %s", strerror(errno));
	return kg_err_set(err, 500, "internal", "could not store the upload");
}

static int
on_data(void *arg, const struct kg_multipart_part *part, const char *data,
	size_t len, struct kg_err *err)
{
	struct kg_req_upload *up = arg;

	(void)part;
	if (up->in_text && up->text.len + len > up->text_max)
		return kg_err_set(err, 400, "bad_request",
				  "%s too long (max %zu bytes)",
				  up->text_field, up->text_max);
	if (up->in_file && kg_spool_write(&up->file, data, len) < 0)
		return spool_failed(err);
	if (up->in_text && kg_buf_append(&up->text, data, len) < 0)
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
	return kg_spool_write(arg, data, len) < 0 ? spool_failed(err) : 0;
}

static const struct kg_multipart_cb upload_cb = {on_part, on_data};

static int
read_form(struct kg_req *req, struct kg_req_upload *up)
{
	struct kg_multipart mp;
	int rc;

	if (kg_multipart_init(&mp, kg_req_env(req, "CONTENT_TYPE"), &upload_cb,
			      up, &req->err) < 0) {
		kg_multipart_free(&mp);
		return -1;
	}
	rc = kg_req_body_each(req, feed_multipart, &mp);
	if (rc == 0)
		rc = kg_multipart_finish(&mp);
	kg_multipart_free(&mp);
	if (rc == 0 && !up->files)
		return kg_req_fail(
			req, 400, "bad_request",
			"no file: send it in the form field \"file\"");
	return rc;
}

int
kg_req_upload(struct kg_req *req, const char *const *raw_types,
	      struct kg_req_upload *up)
{
	if (kg_req_is_type(req, "multipart/form-data"))
		return read_form(req, up);
	for (size_t i = 0; raw_types && raw_types[i]; i++)
		if (kg_req_is_type(req, raw_types[i]))
			return kg_req_body_each(req, feed_raw, &up->file);
	return kg_req_fail(
		req, 415, "unsupported_media_type",
		"send the file as multipart/form-data (field \"file\") "
		"or as the body with Content-Type %s",
		raw_types && raw_types[0] ? raw_types[0]
					  : "multipart/form-data");
}

void
kg_req_upload_free(struct kg_req_upload *up)
{
	kg_spool_free(&up->file);
	kg_buf_free(&up->text);
}
