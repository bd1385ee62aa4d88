/*
 * kg_req - a request as its handler sees it: the CGI parameters, the
 * typed path parameters the route matched (kg_route), the query, the
 * body (whole, streamed, as JSON, or an upload), the version a change
 * is based on, memory that ends with the request, and the error the
 * framework answers when the handler returns -1 (kg_req_fail).  What
 * the handler sends back is kg_resp; the loop around both is kg_app.
 */
#ifndef KG_REQ_H
#define KG_REQ_H

#include <cjson/cJSON.h>
#include <fcgiapp.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "kg_auth.h"
#include "kg_buf.h"
#include "kg_err.h"
#include "kg_spool.h"
#include "kg_user.h"

#define KG_REQ_MAX_PARAMS 4

struct kg_route;
struct kg_req_block;

struct kg_req {
	FCGX_Request fcgi;
	const char *method;
	char *path;			/* REQUEST_URI without the query */
	const char *query;		/* raw query string, may be "" */
	const struct kg_route *route;
	const char *param_names[KG_REQ_MAX_PARAMS];
	const char *param_values[KG_REQ_MAX_PARAMS];
	int nparams;
	char *body;			/* NUL-terminated, body_len bytes */
	size_t body_len;
	int body_read;
	cJSON *json;			/* parsed body, see kg_req_json */
	char request_id[40];
	struct kg_err err;
	struct kg_user user;		/* set for KG_ROUTE_AUTH routes */
	time_t auth_expires;		/* the token's exp, same routes */
	struct kg_session session;	/* the token's session, same routes */
	struct kg_buf headers;		/* extra response headers */
	int status;			/* status sent, 0 while none */
	int version;			/* KG_ROUTE_VERSION routes */
	struct kg_req_block *allocs;	/* freed at the end of the request */
};

/* CGI/FastCGI parameter (e.g. "HTTP_AUTHORIZATION"), NULL if absent. */
const char *kg_req_env(struct kg_req *req, const char *name);
/*
 * The client's address: REMOTE_ADDR, or, when that peer is one of
 * [http] trusted_proxies, the right-most X-Forwarded-For entry that is
 * not a trusted proxy (kg_net).  Never NULL ("-" when unknown).
 */
const char *kg_req_client_addr(struct kg_req *req);
/* Path parameter declared in the route pattern, never NULL for a
 * declared name. */
const char *kg_req_param(struct kg_req *req, const char *name);
/* Query parameter, percent-decoded (NULL if absent or malformed). */
const char *kg_req_query(struct kg_req *req, const char *name);
/* Integer query parameter with bounds: absent -> def; malformed or out
 * of range -> -1 with a 400 in req->err. */
int kg_req_query_int(struct kg_req *req, const char *name, long long def,
		     long long min, long long max, long long *out);
/* The declared CONTENT_LENGTH: -1 when absent, -2 when malformed. */
long long kg_req_content_length(struct kg_req *req);
/* Request body (read on first call, limited by [http] max_body);
 * NULL with req->err set (413, 400) on failure. */
const char *kg_req_body(struct kg_req *req, size_t *len);
/* Stream the body in chunks to fn (for uploads), enforcing the same
 * limit; fn returns -1 (with err set) to stop.  0, or -1 with req->err. */
int kg_req_body_each(struct kg_req *req,
		     int (*fn)(void *arg, const char *data, size_t len,
			       struct kg_err *err),
		     void *arg);
/* Whether the request's Content-Type is `type` (any case, parameters
 * such as "; charset=utf-8" ignored). */
int kg_req_is_type(struct kg_req *req, const char *type);

/*
 * A file upload: multipart/form-data with the file in the form field
 * "file" (exactly one; 400 otherwise) and, if text_field is set, that
 * text field beside it (at most text_max bytes; 400), or the raw file as
 * the body when its Content-Type is one of raw_types (NULL-terminated).
 * Any other type is 415.  The caller sets text_field/text_max, keeps
 * the rest zeroed, and calls kg_req_upload_free() whatever the result.
 * 0, or -1 with req->err (413 over [http] max_body).
 */
struct kg_req_upload {
	const char *text_field;	/* set by the caller, may be NULL */
	size_t text_max;
	struct kg_spool file;	/* the file's bytes (a temporary file
				 * past 64 KiB: kg_spool.h) */
	char filename[256];	/* as the client named it, "" if it did not */
	struct kg_buf text;	/* the text field, kg_buf_str() */
	int files, in_file, in_text;	/* reader state */
};

int kg_req_upload(struct kg_req *req, const char *const *raw_types,
		  struct kg_req_upload *up);
void kg_req_upload_free(struct kg_req_upload *up);

/* Body parsed as a JSON object (415 unless Content-Type is JSON, 400
 * if malformed); owned by the request.  A route that declares its body
 * (kg_body.h) finds it here already checked. */
cJSON *kg_req_json(struct kg_req *req);
/*
 * The version a KG_ROUTE_VERSION route's change is based on: the body's
 * "version" (declare KG_BODY_VERSION_FIELD) or If-Match: "<n>" (the
 * ETag of the resource's GET), resolved by the framework after the body
 * check and before the handler runs.  Neither -> 428
 * "version_required" (an edit that does not say what it was based on
 * could silently overwrite someone else's); both but different, or an
 * If-Match that is not such an ETag -> 400.  Whether the version is
 * still current is the lib's question (409 "version_conflict").
 */
int kg_req_version(struct kg_req *req);

/* Memory freed automatically when the request ends. */
void *kg_req_alloc(struct kg_req *req, size_t size);
char *kg_req_strdup(struct kg_req *req, const char *s);

/* Fails the request: fills req->err, which the framework answers as
 * JSON once the handler returns; returns -1 for `return kg_req_fail()`. */
int kg_req_fail(struct kg_req *req, int status, const char *code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The descriptor to poll(2) for the web server giving up on the request
 * (client gone), and in *events what to ask for: the FastCGI connection
 * and POLLIN, or under plain CGI stdout and 0 (its POLLHUP/POLLERR). */
int kg_req_watch_fd(struct kg_req *req, short *events);
/* A plain CGI request (kg_cgi), which has no FastCGI records. */
int kg_req_is_cgi(const struct kg_req *req);

/*
 * For kg_app, around the handler: the method, the path (after a
 * shared-hosting base, README "Shared hosting"), the query and the
 * request id from the parameters; then the log line of the request
 * (t0_us: kg_clock_us() at its start), the unread body drained, and
 * what the request owned freed.
 */
void kg_req_begin(struct kg_req *req);
void kg_req_end(struct kg_req *req, int64_t t0_us);

#endif
