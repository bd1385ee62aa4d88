/*
 * kg_http - the small framework every endpoint program is built on.
 *
 * An endpoint program declares a route table and handlers; kg_app_main()
 * owns everything else: configuration, logging, the FastCGI accept loop,
 * routing with typed path parameters, body limits, the JSON error shape,
 * security headers, request ids and clean shutdown on SIGTERM.  One
 * process serves many requests and keeps its PostgreSQL and Redis
 * connections between them (kg_db, kg_redis).
 *
 *   static const struct kg_route routes[] = {
 *       {"GET", "/api/batches/{id:uuid}", get_batch, 0},
 *       {0},
 *   };
 *
 * Path parameter types: uuid (canonical 8-4-4-4-12 hex), int (1-18
 * digits), key ([a-z0-9_], 1-64).  A path whose parameter does not fit
 * its type matches no route and gets 404, so handlers only ever see
 * well-formed parameters (the Kore model).
 *
 * Routes flagged KG_ROUTE_AUTH are authenticated before the handler runs
 * (kg_auth); the handler reads the user from req->user and must scope
 * every query on a user's resource to it (404, not 403, for others').
 * A read whose one statement can re-read the user itself (the card) is
 * flagged KG_ROUTE_AUTH | KG_ROUTE_AUTH_INLINE: the framework checks the
 * token only, req->user holds nothing but the id, and the handler's
 * statement selects KG_AUTH_SESSION_COLUMNS (kg_auth.h) beside what it
 * reads, so a deleted user or an ended session still fails at once, in
 * one round trip instead of two.  A success sent before the user was
 * re-read (req->user.role still empty) is refused with a 500.
 *
 * A route that takes a JSON body declares its fields (struct kg_field,
 * below); the framework checks the body against them after
 * authentication and before the handler runs, so a handler reads values
 * that already have their type, bounds and text rules (the Kore model
 * again, for bodies).
 *
 * A handler returns 0 after sending a response (kg_resp_json, ...), or
 * -1 after filling req->err (directly, or by passing &req->err to a lib
 * function, or with kg_fail()); the framework then answers
 *   {"error": code, "message": text, "request_id": id}
 * with err.status.  A handler that returns without answering is a bug
 * and produces a 500.
 */
#ifndef KG_HTTP_H
#define KG_HTTP_H

#include <cjson/cJSON.h>
#include <fcgiapp.h>
#include <stddef.h>
#include <time.h>

#include "kg_auth.h"
#include "kg_buf.h"
#include "kg_err.h"
#include "kg_spool.h"
#include "kg_user.h"

#define KG_MAX_PARAMS 4

/* Route flags. */
#define KG_ROUTE_AUTH 1u	/* signed-in user required (req->user) */
#define KG_ROUTE_QUERY_TOKEN 2u	/* ?token= too, if [auth] query_token */
#define KG_ROUTE_VERSION 4u	/* a change based on a version: see
				   kg_req_version() */
#define KG_ROUTE_TICKET 8u	/* ?ticket= too (kg_ticket, EventSource) */
#define KG_ROUTE_AUTH_INLINE 16u /* the handler re-reads the user (above) */

struct kg_req;
typedef int (*kg_handler)(struct kg_req *req);

/*
 * Request bodies, declared.
 *
 *   static const struct kg_field edit[] = {
 *       {"body", KG_TEXT, .max = KG_SECTION_MAX_CHARS},
 *       {"reviewed", KG_BOOL},
 *       {0},
 *   };
 *   static const struct kg_field patch[] = {
 *       KG_FIELD_VERSION,
 *       {"sections", KG_MAP, KG_REQUIRED, .min = 1, .max = 64,
 *        .of = &(const struct kg_field){"section", KG_OBJECT, .min = 1,
 *                                       .fields = edit}},
 *       {0},
 *   };
 *   {"PATCH", "/api/projects/{id:uuid}", patch_project,
 *    KG_ROUTE_AUTH | KG_ROUTE_VERSION, patch},
 *
 * The body must then be a JSON object (415 unless the Content-Type is
 * JSON, 400 if it does not parse); an empty body counts as {}.  Its
 * text must be valid UTF-8 throughout (400 "invalid_utf8") and must not
 * hold the escape \u0000 (cJSON would silently cut the string there;
 * 400).  Then, field by field in table order, depth first:
 *
 *   400 "bad_request"  a field the table does not name ("unknown field
 *                      \"x\""), a field named twice, a KG_REQUIRED field
 *                      absent, a value of the wrong type or outside its
 *                      bounds, a map or array with too few or too many
 *                      entries, an object with fewer than min fields;
 *   422 "too_long"     a string or text longer than max characters;
 *   422 "too_short"    one shorter than min characters.
 *
 * The messages name the field by its path ("sections.summary.body must
 * be a string"), using the field's `what` when it has one ("revision_id
 * must be a revision's id").  null counts as absent for KG_NULLABLE
 * fields and is the wrong type for the others.  The first fault found
 * is the answer.
 *
 * Types and what min/max bound (max 0: no upper bound, except maps and
 * arrays, which hold KG_BODY_MAX_ENTRIES at most):
 *
 *   KG_STRING  a string; its length in characters (code points)
 *   KG_TEXT    a string of user text, cleaned in place before the
 *              length is counted: "\r\n" and "\r" become "\n", other
 *              control characters are removed (kg_utf8_clean)
 *   KG_INT     an integral number; its value (min 0 by default:
 *              negative values need a negative min)
 *   KG_NUMBER  any number; its value
 *   KG_BOOL    true or false
 *   KG_UUID    a string in canonical 8-4-4-4-12 hex form (kg_is_uuid)
 *   KG_ENUM    a string among `values` (NULL-terminated)
 *   KG_OBJECT  an object with the fields of `fields`; min: how many of
 *              them must be present at least
 *   KG_MAP     an object with free keys (the handler or lib says which
 *              exist), each value as `of`; its number of entries
 *   KG_ARRAY   an array, each item as `of`; its number of items
 *
 * A field's `name` is unused for `of` and is free for documentation.
 */
enum kg_type {
	KG_STRING = 1,
	KG_TEXT,
	KG_INT,
	KG_NUMBER,
	KG_BOOL,
	KG_UUID,
	KG_ENUM,
	KG_OBJECT,
	KG_MAP,
	KG_ARRAY,
};

/* Field flags. */
#define KG_REQUIRED 1u		/* absent -> 400 */
#define KG_NULLABLE 2u		/* null allowed, read as absent */

#define KG_BODY_MAX_ENTRIES 1000

struct kg_field {
	const char *name;
	enum kg_type type;
	unsigned flags;
	long long min, max;
	const char *const *values;	/* KG_ENUM */
	const struct kg_field *fields;	/* KG_OBJECT, ends with {0} */
	const struct kg_field *of;	/* KG_MAP values, KG_ARRAY items */
	const char *what;		/* "a revision's id": messages, docs */
};

/* The version a change is based on (see KG_ROUTE_VERSION). */
#define KG_FIELD_VERSION                                                  \
	{"version", KG_INT, .min = 1, .max = 2147483647,                  \
	 .what = "a positive integer"}

/*
 * A route.  The members after `body` describe it in the API document
 * (OpenAPI 3.1, GET /api/openapi.json), which the build generates from
 * every program's table (`<program>.fcgi --openapi`) and
 * cgi-bin/openapi.json (the shared schemas); a test holds every route
 * and every response to it.
 */
struct kg_route {
	const char *method;
	const char *pattern;
	kg_handler handler;
	unsigned flags;
	const struct kg_field *body;	/* JSON body fields, NULL: none
					   checked (the handler reads it) */
	const char *summary;		/* one line */
	const char *response;		/* the success body: a schema of
					   cgi-bin/openapi.json ("Project"),
					   or a media type for other bodies
					   ("text/event-stream") */
	int status;			/* the success status, 0: 200 */
	const char *request;		/* a body that is not declared JSON:
					   a requestBodies entry ("Upload") */
	const char *errors;		/* error statuses beyond those the
					   flags and body imply ("409 504") */
};

struct kg_app {
	const char *name;
	const struct kg_route *routes;	/* ends with a zeroed entry */
	int (*init)(struct kg_err *err);	/* optional, after config */
	void (*fini)(void);			/* optional, at exit */
	/*
	 * Optional: number of request threads, asked once after init.
	 * Absent (or <= 0): the classic loop, one request at a time.
	 * Otherwise that many threads each run their own FCGX_Accept_r
	 * loop (for long-lived responses such as event streams, where
	 * one process must hold many requests open).  The process still
	 * has ONE kg_db and ONE kg_redis connection: a threaded program
	 * holds kg_app_lock() around every kg_db / kg_redis call (the
	 * framework does so while authenticating).  fini runs after every
	 * request thread has ended.
	 */
	int (*threads)(void);
};

struct kg_alloc;

struct kg_req {
	FCGX_Request fcgi;
	const char *method;
	char *path;			/* REQUEST_URI without the query */
	const char *query;		/* raw query string, may be "" */
	const struct kg_route *route;
	const char *param_names[KG_MAX_PARAMS];
	const char *param_values[KG_MAX_PARAMS];
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
	struct kg_alloc *allocs;	/* freed at the end of the request */
};

/*
 * Runs the program.  With the single argument --openapi it prints its
 * routes as OpenAPI 3.1 path items instead ({"program", "paths"}, see
 * kg_app_openapi) and exits, needing no configuration or services.
 */
int kg_app_main(const struct kg_app *app, int argc, char **argv);

/* {"program": name, "paths": {...}}: the routes as OpenAPI 3.1 path
 * items, error responses as $refs to #/components/responses/<status>;
 * caller deletes. */
cJSON *kg_app_openapi(const struct kg_app *app);

/*
 * The whole API document the build made (scripts/gen-openapi.py), read
 * from where it is installed beside the programs: <the directory of
 * this executable>/../openapi.json (build/openapi.json in a build tree,
 * $(PREFIX)/lib/kartograf/openapi.json installed), so a program never
 * serves a document of another build.  Appends to out; 0, or -1 with
 * 500 in err when it is missing.
 */
int kg_app_openapi_file(struct kg_buf *out, struct kg_err *err);

/* The [http] settings that kg_config cannot check by type (every entry
 * of trusted_proxies is an address or CIDR); kg_app_main runs it. */
int kg_http_check_config(struct kg_err *err);

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
 * the rest zeroed, and calls kg_upload_free() whatever the result.
 * 0, or -1 with req->err (413 over [http] max_body).
 */
struct kg_upload {
	const char *text_field;	/* set by the caller, may be NULL */
	size_t text_max;
	struct kg_spool file;	/* the file's bytes (a temporary file
				 * past 64 KiB: kg_spool.h) */
	char filename[256];	/* as the client named it, "" if it did not */
	struct kg_buf text;	/* the text field, kg_buf_str() */
	int files, in_file, in_text;	/* reader state */
};

int kg_req_upload(struct kg_req *req, const char *const *raw_types,
		  struct kg_upload *up);
void kg_upload_free(struct kg_upload *up);

/* Body parsed as a JSON object (415 unless Content-Type is JSON, 400
 * if malformed); owned by the request. */
cJSON *kg_req_json(struct kg_req *req);
/*
 * The version a KG_ROUTE_VERSION route's change is based on: the body's
 * "version" (declare KG_FIELD_VERSION) or If-Match: "<n>" (the ETag of
 * the resource's GET), resolved by the framework after the body check
 * and before the handler runs.  Neither -> 428 "version_required" (an
 * edit that does not say what it was based on could silently overwrite
 * someone else's); both but different, or an If-Match that is not
 * such an ETag -> 400.  Whether the version is still current is the
 * lib's question (409 "version_conflict").
 */
int kg_req_version(struct kg_req *req);

/*
 * Typed getters for a body the framework checked: `obj` is req->json or
 * an object or map value inside it.  An absent (or null) field gives
 * the default; a present one has the declared type, so there is nothing
 * left to check.  kg_field_str serves KG_STRING, KG_TEXT (cleaned),
 * KG_UUID and KG_ENUM; kg_field gives objects, maps and arrays to walk
 * with cJSON_ArrayForEach (a map entry's key is its ->string).
 */
const char *kg_field_str(const cJSON *obj, const char *name);
long long kg_field_int(const cJSON *obj, const char *name, long long def);
double kg_field_num(const cJSON *obj, const char *name, double def);
int kg_field_bool(const cJSON *obj, const char *name, int def);
const cJSON *kg_field(const cJSON *obj, const char *name);

/*
 * The checks behind a declared body, for tests and for bodies that do
 * not arrive as a request: kg_body_check_raw() the text (UTF-8, no
 * \u0000 escape), kg_body_check() the parsed object against the fields
 * (cleaning KG_TEXT values in place).  0, or -1 with err set as above.
 */
int kg_body_check_raw(const char *text, size_t len, struct kg_err *err);
int kg_body_check(const struct kg_field *fields, cJSON *obj,
		  struct kg_err *err);

/* Steps of kg_app_main, in their own files: between authentication and
 * the handler, the declared body and the version (0, or -1 with
 * req->err); --openapi (the exit status). */
int kg_req_check(struct kg_req *req);
int kg_app_print_openapi(const struct kg_app *app);

/* Canonical uuid text: 8-4-4-4-12 hex digits, either case. */
int kg_is_uuid(const char *s, size_t n);

/* Memory freed automatically when the request ends. */
void *kg_req_alloc(struct kg_req *req, size_t size);
char *kg_req_strdup(struct kg_req *req, const char *s);

int kg_fail(struct kg_req *req, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Add a response header (before the response is sent). */
void kg_resp_header(struct kg_req *req, const char *name, const char *value);
/* Send `body` (consumed, may be NULL for an empty object). */
int kg_resp_json(struct kg_req *req, int status, cJSON *body);
/* Send `len` bytes that already are JSON text (kg_jsonw, kg_*_json). */
int kg_resp_json_text(struct kg_req *req, int status, const char *json,
		      size_t len);
int kg_resp_error(struct kg_req *req, const struct kg_err *err);

/* Streaming responses (files, event streams). */
int kg_resp_start(struct kg_req *req, int status, const char *content_type);
int kg_resp_write(struct kg_req *req, const void *data, size_t len);
int kg_resp_flush(struct kg_req *req);

/* The descriptor to poll(2) for the web server giving up on the request
 * (client gone), and in *events what to ask for: the FastCGI connection
 * and POLLIN, or under plain CGI stdout and 0 (its POLLHUP/POLLERR). */
int kg_req_watch_fd(struct kg_req *req, short *events);

/* Nonzero once SIGTERM/SIGINT asked the program to stop.  In a
 * threaded program a request thread blocked in a system call (poll,
 * write) is interrupted by a signal (EINTR) when the stop comes, so
 * it can notice this promptly. */
int kg_app_stopping(void);

/* The lock over the process's shared kg_db and kg_redis connections,
 * for threaded programs (see struct kg_app); not recursive. */
void kg_app_lock(void);
void kg_app_unlock(void);

#endif
