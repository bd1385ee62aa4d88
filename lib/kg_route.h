/*
 * kg_route - an endpoint program's route table: what it answers, and
 * what the framework (kg_app) does before each handler runs.
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
 * A route that takes a JSON body declares its fields (struct
 * kg_body_field, kg_body.h); the framework checks the body against them
 * after authentication and before the handler runs, so a handler reads
 * values that already have their type, bounds and text rules (the Kore
 * model again, for bodies).
 *
 * A handler returns 0 after sending a response (kg_resp_json, ...), or
 * -1 after filling req->err (directly, or by passing &req->err to a lib
 * function, or with kg_req_fail()); the framework then answers
 *   {"error": code, "message": text, "request_id": id}
 * with err.status.  A handler that returns without answering is a bug
 * and produces a 500.
 */
#ifndef KG_ROUTE_H
#define KG_ROUTE_H

#include "kg_buf.h"

/* Route flags. */
#define KG_ROUTE_AUTH 1u	/* signed-in user required (req->user) */
#define KG_ROUTE_QUERY_TOKEN 2u	/* ?token= too, if [auth] query_token */
#define KG_ROUTE_VERSION 4u	/* a change based on a version: see
				   kg_req_version() */
#define KG_ROUTE_TICKET 8u	/* ?ticket= too (kg_ticket, EventSource) */
#define KG_ROUTE_AUTH_INLINE 16u /* the handler re-reads the user (above) */

struct kg_req;
struct kg_body_field;
typedef int (*kg_route_handler)(struct kg_req *req);

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
	kg_route_handler handler;
	unsigned flags;
	const struct kg_body_field *body; /* JSON body fields, NULL: none
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

/*
 * The route of `routes` (ends with a zeroed entry) for req's method and
 * path, its path parameters recorded in req (kg_req_param); NULL when
 * none, and then, if the path matched with other methods, those in
 * `allow` for the 405 answer.
 */
const struct kg_route *kg_route_find(struct kg_req *req,
				     const struct kg_route *routes,
				     struct kg_buf *allow);

/* Aborts on a pattern whose parameter has no known type (at start). */
void kg_route_check(const struct kg_route *routes);

#endif
