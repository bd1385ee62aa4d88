/*
 * Live status of a batch (DESIGN.md "Live status", README "Live status"):
 *
 *   POST /api/events/{batchId}/ticket  (Bearer) -> {ticket, expires_in,
 *        url}: a single-use ticket for the stream, valid 60 s (kg_ticket)
 *   GET  /api/events/{batchId}?ticket=...  Server-Sent Events
 *
 * EventSource cannot send an Authorization header, and a token in the
 * URL would end up in access logs, so the browser first asks for a
 * ticket with its token and opens the stream with the ticket (a new one
 * for every reconnect).  Authorization: Bearer works too (other
 * clients); ?token= only while [auth] query_token is on.  Owner or
 * admin only, 404 otherwise, answered as JSON before any stream starts,
 * as are the limits (kg_streams: 503 when this process has no free
 * stream thread, 429 over [events] max_streams_per_user).  The streaming
 * itself, replay after Last-Event-ID and the Redis fan-out are
 * kg_relay's.
 *
 * The program is threaded: [events] max_streams request threads, one
 * per open stream, plus one spare that answers the 503s.
 */
#include "kg_app.h"
#include "kg_auth.h"
#include "kg_batch.h"
#include "kg_body.h"
#include "kg_config.h"
#include "kg_relay.h"
#include "kg_req.h"
#include "kg_resp.h"
#include "kg_streams.h"
#include "kg_ticket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Last-Event-ID (EventSource reconnect) or ?lastEventId= (our UI after
 * a reload); -1 when absent or not a seq. */
static long long
last_event_id(struct kg_req *req)
{
	const char *s = kg_req_env(req, "HTTP_LAST_EVENT_ID");
	char *end;
	long long v;

	if (!s || !*s)
		s = kg_req_query(req, "lastEventId");
	if (!s || !*s || strlen(s) > 18)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return (errno || *end || v < 0) ? -1 : v;
}

/* The check reads through the process's one database connection, which
 * the stream threads share. */
static int
can_watch(struct kg_req *req, const char *batch_id)
{
	int rc;

	kg_app_lock();
	rc = kg_batch_visible(batch_id, &req->user, 0, &req->err);
	kg_app_unlock();
	return rc;
}

static int
get_events(struct kg_req *req)
{
	const char *batch_id = kg_req_param(req, "batchId");

	/* The (empty) body is read first, so that afterwards the FastCGI
	 * socket only becomes readable when the web server gives up. */
	if (can_watch(req, batch_id) < 0 || !kg_req_body(req, NULL))
		return -1;
	return kg_relay_stream(req, batch_id, last_event_id(req));
}

/* Refused early when the user already holds every stream slot: the UI
 * then polls instead of opening a stream that would get 429. */
static int
user_at_limit(struct kg_req *req)
{
	long long open;

	kg_app_lock();
	open = kg_streams_open(req->user.id, NULL);
	kg_app_unlock();
	if (open < kg_config_int("events", "max_streams_per_user"))
		return 0;
	kg_resp_header(req, "Retry-After", "30");
	return kg_req_fail(req, 429, "too_many_streams",
			   "too many open live-status streams for this user");
}

static int
post_ticket(struct kg_req *req)
{
	const char *batch_id = kg_req_param(req, "batchId");
	char path[64], ticket[KG_TICKET_CHARS + 1], url[160];
	cJSON *o;
	int rc;

	if (can_watch(req, batch_id) < 0 || user_at_limit(req) < 0)
		return -1;
	snprintf(path, sizeof(path), "/api/events/%s", batch_id);
	kg_app_lock();
	rc = kg_ticket_issue(req->user.id, &req->session, path, ticket,
			     &req->err);
	kg_app_unlock();
	if (rc < 0)
		return -1;
	snprintf(url, sizeof(url), "%s?ticket=%s", path, ticket);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ticket", ticket);
	cJSON_AddNumberToObject(o, "expires_in", KG_TICKET_TTL);
	cJSON_AddStringToObject(o, "url", url);
	return kg_resp_json(req, 201, o);
}

static const struct kg_body_field no_body[] = {{0}};

static const struct kg_route routes[] = {
	{"GET", "/api/events/{batchId:uuid}", get_events,
	 KG_ROUTE_AUTH | KG_ROUTE_TICKET | KG_ROUTE_QUERY_TOKEN,
	 .summary = "A batch's live status as Server-Sent Events "
		    "(Last-Event-ID or ?lastEventId= to resume)",
	 .response = "text/event-stream", .errors = "429 503"},
	{"POST", "/api/events/{batchId:uuid}/ticket", post_ticket,
	 KG_ROUTE_AUTH, no_body,
	 .summary = "A single-use, 60-second ticket to open the stream with",
	 .response = "Ticket", .status = 201, .errors = "429"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"events", routes, NULL, kg_relay_stop,
					  kg_streams_threads};

	return kg_app_main(&app, argc, argv);
}
