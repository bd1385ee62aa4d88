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
 * Adds "queue": {"waiting": bool, "batches_ahead": n, "eta_seconds": s,
 * "workers": n} to a batch object from kg_batch_get (it reads its "id" and
 * "counts").  "waiting" is true while the batch has QUEUED projects and
 * none GENERATING; batches_ahead and eta_seconds are null otherwise.
 * "workers" counts workers with a live heartbeat (0: nothing will start
 * until one runs).  0, or -1 with err set (Redis or the database failed:
 * the object is left without "queue").
 */
int kg_sched_describe(cJSON *batch, struct kg_err *err);

#endif
