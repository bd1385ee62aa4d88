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

#include "kg_buf.h"
#include "kg_err.h"
#include "kg_user.h"

#define KG_MAX_PARAMS 4

/* Route flags. */
#define KG_ROUTE_AUTH 1u	/* signed-in user required (req->user) */
#define KG_ROUTE_QUERY_TOKEN 2u	/* also accept ?token= (EventSource only) */

struct kg_req;
typedef int (*kg_handler)(struct kg_req *req);

struct kg_route {
	const char *method;
	const char *pattern;
	kg_handler handler;
	unsigned flags;
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
	struct kg_buf headers;		/* extra response headers */
	int status;			/* status sent, 0 while none */
	struct kg_alloc *allocs;	/* freed at the end of the request */
};

int kg_app_main(const struct kg_app *app, int argc, char **argv);

/* CGI/FastCGI parameter (e.g. "HTTP_AUTHORIZATION"), NULL if absent. */
const char *kg_req_env(struct kg_req *req, const char *name);
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
/* Body parsed as a JSON object (415 unless Content-Type is JSON, 400
 * if malformed); owned by the request. */
cJSON *kg_req_json(struct kg_req *req);
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
