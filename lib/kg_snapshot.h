/*
 * kg_snapshot - a batch's live status in one piece: the body of the
 * relay's `snapshot` event (kg_relay, README "Live status"):
 *
 *   {"type" : "snapshot", "seq" : 17, "ts" : "2026-03-01T10:15:30.500Z",
 *    "batch_id" : "…", "name" : "…", "status" : "GENERATING",
 *    "row_count" : 3, "projects" : [{"id" : "…", "name" : "…", "row" : 2,
 *    "status" : "GENERATING", "progress" : 40, "quality_score" : null}, …]}
 *
 * (one line; the layout is PostgreSQL's json_build_object one, which
 * made these bytes before, and test_read_bodies holds it to them).
 *
 * ONE prepared statement reads the batch row and its projects' plain
 * rows (one MVCC snapshot, so seq and the projects agree; the ownership
 * rule in its WHERE); the rows become JSON text in C, and only when the
 * snapshot is really sent (a reconnect that the history can replay only
 * needs seq and status).
 */
#ifndef KG_SNAPSHOT_H
#define KG_SNAPSHOT_H

#include <libpq-fe.h>

#include "kg_buf.h"
#include "kg_err.h"
#include "kg_user.h"

struct kg_snapshot {
	PGresult *res;		/* row 0: the batch; then its projects */
	long long seq;		/* batches.event_seq as read */
	const char *status;	/* batches.status (points into res) */
	char ts[40];		/* when it was read (kg_event_timestamp) */
};

/* Read batch `id` as u sees it: 0, or -1 with 404 "not_found" when it is
 * gone or not u's (or a database error) in err. */
int kg_snapshot_read(const char *id, const struct kg_user *u,
		     struct kg_snapshot *s, struct kg_err *err);

/* The event's JSON appended to out: 0, or -1 when out of memory. */
int kg_snapshot_json(const struct kg_snapshot *s, struct kg_buf *out);

void kg_snapshot_free(struct kg_snapshot *s);

#endif
