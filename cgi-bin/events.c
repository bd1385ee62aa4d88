/*
 * GET /api/events/{batchId} - the live status of a batch as Server-Sent
 * Events (DESIGN.md "Live status").  Token in Authorization or ?token=
 * (EventSource cannot send headers); owner or admin only, 404 otherwise,
 * answered as JSON before any stream starts.  The streaming itself,
 * replay after Last-Event-ID and the Redis fan-out are kg_relay's.
 *
 * The program is threaded: [events] max_streams request threads, one
 * per open stream.
 */
#include "kg_batch.h"
#include "kg_config.h"
#include "kg_http.h"
#include "kg_relay.h"

#include <errno.h>
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

static int
events_threads(void)
{
	return (int)kg_conf_int("events", "max_streams");
}

static const struct kg_route routes[] = {
	{"GET", "/api/events/{batchId:uuid}", get_events,
	 KG_ROUTE_AUTH | KG_ROUTE_QUERY_TOKEN,
	 .summary = "A batch's live status as Server-Sent Events "
		    "(Last-Event-ID or ?lastEventId= to resume)",
	 .response = "text/event-stream"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"events", routes, NULL, kg_relay_stop,
					  events_threads};

	return kg_app_main(&app, argc, argv);
}
