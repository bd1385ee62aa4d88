/*
 * kg_event - status events of a batch, for the browser's live view.
 *
 * The contract (DESIGN.md "Live status"):
 *   - A change is written to PostgreSQL first.  In the same transaction
 *     kg_event_next_seq() takes the batch's next sequence number
 *     (batches.event_seq, row-locked, so seq order is commit order).
 *   - After COMMIT, kg_event_publish() appends the event to the batch's
 *     bounded history, the Redis stream  kg:events:<batch_id>  (fields
 *     "seq" and "data", ~KG_EVENT_HISTORY entries, expiring
 *     KG_EVENT_TTL seconds after the last event), and PUBLISHes the same
 *     JSON on the channel  kg:batch:<batch_id>  - both in one Lua script,
 *     so a subscriber never sees an event that the history lacks.
 *   - The JSON of every event:
 *       {"type": "project.status_changed" | "project.progress" |
 *                "project.completed" | "project.failed" | "batch.completed",
 *        "seq": 42, "ts": "2026-11-29T03:10:00.123Z",
 *        "batch_id": "...", "project_id": "..." | null,
 *        "status": "GENERATING", "progress": 40,
 *        "quality_score": 87 | null, "message": "..." (optional)}
 *     For batch.completed, status is the batch status (COMPLETED or
 *     PARTIAL) and progress 100.
 *     Batch lifecycle (kg_batch_life.c): "batch.stopped" (a stop or a
 *     cost cap; status VALIDATED, message the reason; the stopped
 *     projects' own project.status_changed PENDING come first) and
 *     "project.deleted" (status "DELETED", the card removed from the
 *     batch).
 *
 * If Redis is down when publishing, the event is missing from the
 * history but PostgreSQL holds the state: the relay notices the gap in
 * seq (batches.event_seq is ahead of the history) and sends a snapshot.
 */
#ifndef KG_EVENT_H
#define KG_EVENT_H

#include <cjson/cJSON.h>

#include "kg_err.h"
#include "kg_redis.h"

#define KG_EVENT_HISTORY 1000
#define KG_EVENT_TTL (7 * 24 * 3600)

struct kg_event {
	const char *type;
	const char *batch_id;
	const char *project_id;		/* NULL for batch events */
	const char *status;
	int progress;			/* 0..100 */
	int quality_score;		/* -1 = none */
	const char *message;		/* NULL or a human reason */
};

/* Inside the transaction that makes the change: the next seq, or -1. */
long long kg_event_next_seq(const char *batch_id, struct kg_err *err);

/* The event as JSON (caller frees). */
cJSON *kg_event_json(const struct kg_event *ev, long long seq);

/* Now as an event's "ts": UTC to the millisecond,
 * "2026-03-01T10:15:30.500Z" (size >= 40). */
void kg_event_timestamp(char *out, size_t size);

/* After COMMIT: history + PUBLISH.  -1 (503) if Redis is unavailable. */
int kg_event_publish(const struct kg_event *ev, long long seq,
		     struct kg_err *err);
/* The same as a command of a pipeline (kg_redis.h); its reply is
 * checked by kg_event_published (0, or -1 with err). */
int kg_event_publish_add(struct kg_redis_pipe *p, const struct kg_event *ev,
			 long long seq, struct kg_err *err);
int kg_event_published(redisReply *r, struct kg_err *err);

/* Redis names for a batch (out needs 64 bytes). */
void kg_event_stream_key(const char *batch_id, char *out);
void kg_event_channel(const char *batch_id, char *out);

#endif
