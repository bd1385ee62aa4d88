/*
 * kg_export - project cards as .docx files and batches as .zip files:
 * what is built, where it is stored, how it is recorded, and how the
 * download endpoint and the worker talk about it.
 *
 * The flow (seed workflow 1, "Pobierz"):
 *
 *   endpoint                          worker (worker/wk_export.c)
 *   --------                          ------
 *   check owner + status (404/409)
 *   stored file for this project
 *   version?  -> stream it, done
 *   push task on kg:queue:export  ->  take task
 *   BLPOP kg:export:done:<req>        build (kg_export_card/_zip)
 *     (at most [export]               store (kg_storage) + record
 *      wait_timeout s, else 504)        (export_history) = kg_export_store
 *                                 <-  RPUSH result (kg_export_reply)
 *   read the file back from storage,
 *   check its sha256, stream it
 *
 * export_history gets a row only after the file is stored, so a storage
 * failure (503) leaves nothing half-recorded.  A .docx is built from the
 * database alone and is deterministic (zip times = the project's
 * updated_at), so the same project version always has the same bytes,
 * hash and storage key; a re-export of an unchanged project reuses the
 * stored file without a worker round trip and without a new row.
 *
 * Storage keys are made from ids and hashes only:
 *   exports/<project_id>/v<version>-<sha256[0..16)>.docx
 *   exports/batches/<batch_id>/<UTC time>-<sha256[0..16)>.zip
 * The names people see (Content-Disposition, entries of the zip) come
 * from kg_export_filename(), never from the storage key.
 */
#ifndef KG_EXPORT_H
#define KG_EXPORT_H

#include <stddef.h>
#include <time.h>

#include "kg_buf.h"
#include "kg_err.h"
#include "kg_queue.h"
#include "kg_storage.h"
#include "kg_user.h"

#define KG_QUEUE_EXPORT "export"
#define KG_TASK_EXPORT_DOCX "export_docx"
#define KG_TASK_EXPORT_ZIP "export_zip"
/* Largest file an export may produce or the endpoint reads back. */
#define KG_EXPORT_MAX_BYTES ((size_t)512 << 20)
/* Characters of a name kept in a file name (before the extension). */
#define KG_EXPORT_NAME_MAX 80

#define KG_CT_DOCX \
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document"
#define KG_CT_ZIP "application/zip"

/* A stored export: one export_history row's file. */
struct kg_export_file {
	char backend[8];			/* local | s3 */
	char key[KG_STORAGE_KEY_MAX + 1];
	char sha256[65];			/* lower-case hex */
	long long size;
	int reused;				/* 1: found, not built now */
};

/* What the endpoint checked: the project or batch to export. */
struct kg_export_target {
	char id[37];
	char batch_id[37];	/* the project's batch ("" for a batch) */
	char name[2048];	/* project or batch name, UTF-8 */
	int version;		/* projects.version (0 for a batch) */
};

/*
 * File names from a user's text (a project name: anything, including
 * "../../etc/passwd", quotes, control characters, 5,000 characters).
 * Appends to `utf8` a name safe on every file system: invalid UTF-8 and
 * control characters dropped, / \ : * ? " < > | and whitespace runs
 * become one space, leading/trailing spaces and dots trimmed, at most
 * KG_EXPORT_NAME_MAX characters, a Windows device name (CON, NUL, COM1,
 * ...) prefixed with '_', `fallback` if nothing is left; then `ext`
 * (".docx").  Appends to `ascii` (may be NULL) the same name for old
 * clients: Polish letters without diacritics (ł -> l), spaces as '_',
 * every other character outside [A-Za-z0-9._()-] as '_' (runs collapsed).
 */
int kg_export_filename(const char *name, const char *fallback,
		       const char *ext, struct kg_buf *utf8,
		       struct kg_buf *ascii);

/*
 * The Content-Disposition value for a download of `name`:
 *   attachment; filename="<ascii>"; filename*=UTF-8''<RFC 5987 encoded>
 * (RFC 6266: clients that know filename* use it, others the ASCII one).
 */
int kg_export_disposition(const char *name, const char *fallback,
			  const char *ext, struct kg_buf *out);

/* Endpoint checks, scoped to `u` (admins see all):
 * project: 404 not_found, 409 not_completed (status is not COMPLETED);
 * batch: 404 not_found, 409 nothing_to_export (no COMPLETED card). */
int kg_export_find_project(const char *project_id, const struct kg_user *u,
			   struct kg_export_target *t, struct kg_err *err);
int kg_export_find_batch(const char *batch_id, const struct kg_user *u,
			 struct kg_export_target *t, struct kg_err *err);

/* The stored .docx of this project version on the configured backend:
 * 1 found (f filled, f->reused = 1), 0 none, -1 error. */
int kg_export_reusable(const char *project_id, int version,
		       struct kg_export_file *f, struct kg_err *err);

/* The batch's newest stored .zip if no card (and not the batch) has
 * changed since it was stored: 1 found (f->reused = 1), 0 none, -1. */
int kg_export_reusable_zip(const char *batch_id, struct kg_export_file *f,
			   struct kg_err *err);

/*
 * Export retention (kartograf-admin prune-exports, and the worker once a
 * day when [export] retention_days is set): export_history rows older
 * than older_than_s seconds and their stored files, at most `limit` per
 * call, oldest first - except the newest export of every card and of
 * every batch (the file a download can reuse), and except a file that
 * a kept row still names.  Files first, rows after: the number of rows
 * pruned, or -1 at the first storage failure (what was pruned stays
 * pruned; run it again).
 */
long long kg_export_prune(long long older_than_s, int limit,
			  struct kg_err *err);

/*
 * Build a project's card from the database and APPEND the .docx to
 * `out`; *version gets the project version it was built from.  404 if
 * there is no such project, 409 not_completed.
 */
int kg_export_card(const char *project_id, struct kg_buf *out, int *version,
		   struct kg_err *err);

/*
 * Build the batch's .zip and APPEND it to `out`: one .docx per
 * COMPLETED project in row order, named by kg_export_filename() and
 * de-duplicated ("Park.docx", "Park (2).docx"), plus podsumowanie.xlsx
 * (every project: name, status, quality, cost, export date `now`, file).
 */
int kg_export_zip(const char *batch_id, time_t now, struct kg_buf *out,
		  struct kg_err *err);

/*
 * Store `data` and record it: computes size and sha256, makes the key,
 * kg_storage_put(), then the export_history row (user, project +
 * version for a .docx, or batch for a .zip).  Pass project_id + version
 * or batch_id.  On a storage failure nothing is recorded.
 */
int kg_export_store(const char *user_id, const char *project_id, int version,
		    const char *batch_id, const struct kg_buf *data,
		    struct kg_export_file *f, struct kg_err *err);
/* Its two halves, for the worker's PUT on its loop (kg_storage_put_start):
 * the file `data` becomes (size, sha256, backend, key; no storage call),
 * and the export_history row once it is stored. */
void kg_export_file_of(const char *project_id, int version,
		       const char *batch_id, const struct kg_buf *data,
		       struct kg_export_file *f);
int kg_export_record(const char *user_id, const char *project_id, int version,
		     const char *batch_id, const struct kg_export_file *f,
		     struct kg_err *err);

/* Read a stored export back (size and sha256 checked: 500 on mismatch). */
int kg_export_load(const struct kg_export_file *f, struct kg_buf *out,
		   struct kg_err *err);

/*
 * Endpoint: put an export task (kind KG_TASK_EXPORT_DOCX with
 * project_id, or KG_TASK_EXPORT_ZIP with batch_id) on the export queue
 * and wait up to [export] wait_timeout seconds for the worker's answer:
 * 0 with `f` filled, or -1 with the worker's error (e.g. 503
 * storage_unavailable), 504 export_timeout, 503 if Redis is down.
 */
int kg_export_request(const char *kind, const char *project_id,
		      const char *batch_id, const char *user_id,
		      struct kg_export_file *f, struct kg_err *err);

/* A task as the worker reads it: what every queue's task holds (kind,
 * project_id or batch_id, ident: kg_queue.h), then the export's own.
 * One parse fills both. */
struct kg_export_task {
	struct kg_queue_task q;
	char user_id[37];
	char request_id[40];
	long long deadline;	/* unix time (ms) after which nobody waits */
};

int kg_export_task_parse(const char *json, struct kg_export_task *t);

/* Wall-clock milliseconds since the epoch (task deadlines are compared
 * across hosts, so not a monotonic clock). */
long long kg_export_now_ms(void);

/* Worker: answer request `request_id` with `f` (failure NULL) or with
 * the error `failure`. */
int kg_export_reply(const char *request_id, const struct kg_export_file *f,
		    const struct kg_err *failure, struct kg_err *err);

/*
 * Before a user is deleted (kartograf-admin deluser): remove the stored
 * files of every export of their batches (and every export they made)
 * from the configured storage.  The database rows go with the user (ON
 * DELETE CASCADE); the files would not.  Returns the number of files
 * removed, or -1 with err set when one could not be removed (then the
 * caller keeps the user, so the command can simply be repeated).
 */
int kg_export_purge_user(const char *email, struct kg_err *err);

/*
 * Before a batch (project_id NULL) or one card is deleted: remove the
 * stored files of its exports (the batch's .zip files and its cards'
 * .docx files, or the card's .docx files).  Same contract as
 * kg_export_purge_user: the number removed, or -1 (503) when one could
 * not be removed, and then the caller must keep the rows.
 */
int kg_export_purge_target(const char *batch_id, const char *project_id,
			   struct kg_err *err);

#endif
