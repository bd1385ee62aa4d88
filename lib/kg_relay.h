/*
 * kg_relay - live batch events as Server-Sent Events, fed by Redis
 * pub/sub (DESIGN.md "Live status"; the design, the replay rule and the
 * guarantees are explained at the top of kg_relay.c).
 *
 * Made for a threaded kg_app (struct kg_app.threads): every open stream
 * holds one request thread; all streams of the process share one Redis
 * subscriber connection run by a dispatcher thread that starts with the
 * first stream.
 */
#ifndef KG_RELAY_H
#define KG_RELAY_H

struct kg_req;

/*
 * Stream the events of `batch_id` to `req` until the batch is finished
 * (plus [events] end_grace), the token expires (req->auth_expires), the
 * session ends (re-checked at every heartbeat, kg_streams) or the client
 * goes away.  The stream limits (kg_streams) are taken first: 503 when
 * this process has no free stream slot, 429 over the user's limit.  The caller has checked access.  `last_id` is
 * the client's Last-Event-ID (-1 if none): events after it are
 * replayed, or a snapshot is sent.  Before the stream starts, failures
 * return -1 with req->err set (so the client gets a JSON error);
 * afterwards 0.
 */
int kg_relay_stream(struct kg_req *req, const char *batch_id,
		    long long last_id);

/* Stop the dispatcher thread and free everything (program exit). */
void kg_relay_stop(void);

#endif
