/*
 * kg_sched - what a user waiting for generation is told: where their batch
 * stands in the fair queue (lib/kg_queue.h) and roughly how long until it
 * starts.
 *
 * The generate queue serves the batches with waiting work round robin
 * (kg:ready:generate); a batch waits only while every slot it could use is
 * busy.  Each slot that frees goes to the next batch of the ring, so a
 * batch with k batches ahead of it starts after about k + 1 slots free up.
 * Slots free at (projects generating) / (mean project time) per second,
 * the mean taken over the last hour's finished projects (or
 * KG_SCHED_DEFAULT_PROJECT_S while there are none).  A rough figure, which
 * is how the UI presents it ("ok. 4 min").
 */
#ifndef KG_SCHED_H
#define KG_SCHED_H

#include <cjson/cJSON.h>

#include "kg_err.h"

#define KG_SCHED_DEFAULT_PROJECT_S 60

/*
 * The "queue" member of a batch answer (GET /api/batches/{id}) for a batch
 * with `queued` QUEUED and `generating` GENERATING projects:
 * {"waiting": bool, "batches_ahead": n, "eta_seconds": s, "workers": n}.
 * "waiting" is true while the batch has QUEUED projects and none
 * GENERATING; batches_ahead and eta_seconds are null otherwise.
 * "workers" counts workers with a live heartbeat (0: nothing starts until
 * one runs, e.g. the cron worker of shared hosting).  NULL with err set
 * when Redis or the database failed (the answer goes without "queue").
 */
cJSON *kg_sched_queue(const char *batch_id, long long queued,
		      long long generating, struct kg_err *err);

#endif
