/*
 * kg_storage - where exported files live: one interface, two backends.
 *
 *   local  a directory ([storage] local_dir).  A write goes to a
 *          temporary file in the target directory, is fsync()ed, renamed
 *          over the final name and the directory fsync()ed, so a reader
 *          (another request, another process) sees either no file or
 *          the whole file, never a torn one, even after a crash.
 *   s3     Amazon S3 or any S3-compatible store (MinIO, Ceph RGW, ...):
 *          PUT/GET Object, signed with kg_sigv4 (S3 rules), bucket,
 *          region, endpoint and path-style addressing from [storage]
 *          s3_*.  Needed as soon as more than one host serves downloads
 *          or runs workers: a local directory is only on one machine.
 *
 * The backend is read from the configuration on every call, so a SIGHUP
 * reload switches it without restarting.
 *
 * Keys are relative names made by the caller from ids and hashes
 * ("exports/<uuid>/v3-0123abcd.docx"), never from user text.  Every
 * function checks the key with kg_storage_key_valid() anyway (defence in
 * depth, like export_history's CHECK): a key that could climb out of the
 * directory or bucket prefix is refused with 500, not stored.
 *
 * Errors: 503 "storage_unavailable" (directory not writable, disk full,
 * S3 unreachable, refused or misconfigured), 404 "not_found" (get of a
 * key that is not there), 413 "too_large" (get of an object bigger than
 * `max`), 500 "bad_storage_key".  Messages never contain secrets.
 */
#ifndef KG_STORAGE_H
#define KG_STORAGE_H

#include <stddef.h>

#include "kg_buf.h"
#include "kg_err.h"

#define KG_STORAGE_KEY_MAX 1024

/* "local" or "s3": the configured backend (export_history.storage_backend). */
const char *kg_storage_backend(void);

/*
 * Nonzero if `key` is a safe relative key: 1..KG_STORAGE_KEY_MAX bytes of
 * [A-Za-z0-9._-] segments separated by single '/', no leading or
 * trailing '/', no segment that is empty, "." or "..", and no segment
 * starting with '.' (temporary files of the local backend start so).
 */
int kg_storage_key_valid(const char *key);

/* Store `len` bytes under `key` (replacing what was there). */
int kg_storage_put(const char *key, const void *data, size_t len,
		   struct kg_err *err);

/*
 * The worker's PUT, on its event loop (kg_loop.h).  With the s3 backend
 * the request - built, signed and checked by the same code as
 * kg_storage_put - is one more easy handle on the loop's curl multi, so
 * nothing else the loop drives (AI calls, timers) waits behind it:
 * returns 0 and done(arg, err, again) runs once from kg_loop_run_once,
 * err NULL when stored, else why, with `again` 1 when a later try may
 * succeed (no answer, a timeout, HTTP 5xx or 429) and 0 when not (a
 * refusal such as 403 SignatureDoesNotMatch).  `data` must stay valid
 * until then.  The local backend writes at once, as kg_storage_put
 * does (a local write is not a network wait; nothing to overlap):
 * returns 1, stored, done is not called.  -1 + err: failed at once
 * (bad key, S3 not configured).  *put (0 only) is the transfer, for
 * kg_storage_put_cancel (shutdown): it stops without calling done.
 */
struct kg_loop;
struct kg_storage_put;
typedef void (*kg_storage_done_fn)(void *arg, const struct kg_err *err,
				   int again);
int kg_storage_put_start(struct kg_loop *loop, const char *key,
			 const void *data, size_t len, kg_storage_done_fn done,
			 void *arg, struct kg_storage_put **put,
			 struct kg_err *err);
void kg_storage_put_cancel(struct kg_storage_put *put);

/* Append the object `key` (at most `max` bytes) to `out`. */
int kg_storage_get(const char *key, struct kg_buf *out, size_t max,
		   struct kg_err *err);

/* The backends, callable directly (tests, tools). */
/* Remove a stored file; one that is already gone is not an error. */
int kg_storage_delete(const char *key, struct kg_err *err);

int kg_storage_local_delete(const char *dir, const char *key,
			    struct kg_err *err);
int kg_storage_s3_delete(const char *key, struct kg_err *err);

int kg_storage_local_put(const char *dir, const char *key, const void *data,
			 size_t len, struct kg_err *err);
int kg_storage_local_get(const char *dir, const char *key, struct kg_buf *out,
			 size_t max, struct kg_err *err);
int kg_storage_s3_put(const char *key, const void *data, size_t len,
		      struct kg_err *err);
int kg_storage_s3_get(const char *key, struct kg_buf *out, size_t max,
		      struct kg_err *err);
struct kg_storage_put *kg_storage_s3_put_start(struct kg_loop *loop,
					       const char *key,
					       const void *data, size_t len,
					       kg_storage_done_fn done,
					       void *arg, struct kg_err *err);

#endif
