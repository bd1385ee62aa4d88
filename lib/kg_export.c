/*
 * kg_export: the endpoint's checks, storing and recording an export, and
 * the request/answer exchange between the endpoint and the worker.  The
 * files themselves are built in kg_export_build.c, their names in
 * kg_export_name.c; the whole flow is described in kg_export.h.
 */
#include "kg_auth.h"
#include "kg_batch.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_export.h"
#include "kg_hash.h"
#include "kg_log.h"
#include "kg_queue.h"
#include "kg_redis.h"
#include "kg_user.h"
#include "kg_storage.h"

#include <cjson/cJSON.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The answer list of one request; it outlives a gone endpoint by this. */
#define DONE_KEY_FMT "kg:export:done:%s"
#define DONE_TTL_EXTRA 60

static void
copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

int
kg_export_find_project(const char *project_id, const struct kg_user *u,
		       struct kg_export_target *t, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err,
		"SELECT p.name, p.version, p.status, p.batch_id "
		"FROM projects p JOIN batches b ON b.id = p.batch_id "
		"WHERE p.id = $1 AND " KG_BATCH_VISIBLE,
		project_id, u->id, kg_auth_admin_param(u));
	int rc = -1;

	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		kg_err_set(err, 404, "not_found", "no such project");
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 2), "COMPLETED")) {
		kg_err_set(err, 409, "not_completed",
			   "only a completed card can be exported (status %s)",
			   PQgetvalue(res, 0, 2));
		goto out;
	}
	copy(t->id, sizeof(t->id), project_id);
	copy(t->name, sizeof(t->name), PQgetvalue(res, 0, 0));
	t->version = atoi(PQgetvalue(res, 0, 1));
	copy(t->batch_id, sizeof(t->batch_id), PQgetvalue(res, 0, 3));
	rc = 0;
out:
	PQclear(res);
	return rc;
}

int
kg_export_find_batch(const char *batch_id, const struct kg_user *u,
		     struct kg_export_target *t, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err,
		"SELECT b.name, (SELECT count(*) FROM projects p "
		"  WHERE p.batch_id = b.id AND p.status = 'COMPLETED') "
		"FROM batches b WHERE b.id = $1 AND " KG_BATCH_VISIBLE,
		batch_id, u->id, kg_auth_admin_param(u));
	int rc = -1;

	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		kg_err_set(err, 404, "not_found", "no such batch");
		goto out;
	}
	if (!atoll(PQgetvalue(res, 0, 1))) {
		kg_err_set(err, 409, "nothing_to_export",
			   "the batch has no completed card yet");
		goto out;
	}
	copy(t->id, sizeof(t->id), batch_id);
	copy(t->name, sizeof(t->name), PQgetvalue(res, 0, 0));
	t->batch_id[0] = '\0';
	t->version = 0;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static void file_from_row(PGresult *res, int row, struct kg_export_file *f);

/* The first row of res (a stored export), if any: 1 found, 0 none,
 * -1 the query failed.  Takes res. */
static int
reuse_row(PGresult *res, struct kg_export_file *f)
{
	int found;

	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found) {
		file_from_row(res, 0, f);
		f->reused = 1;
	}
	PQclear(res);
	return found;
}

static void
file_from_row(PGresult *res, int row, struct kg_export_file *f)
{
	copy(f->backend, sizeof(f->backend), PQgetvalue(res, row, 0));
	copy(f->key, sizeof(f->key), PQgetvalue(res, row, 1));
	copy(f->sha256, sizeof(f->sha256), PQgetvalue(res, row, 2));
	f->size = atoll(PQgetvalue(res, row, 3));
}

int
kg_export_reusable(const char *project_id, int version,
		   struct kg_export_file *f, struct kg_err *err)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", version);
	return reuse_row(KG_DB_QUERY(err,
		"SELECT storage_backend, storage_key, sha256, size_bytes "
		"FROM export_history WHERE project_id = $1 AND format = 'docx' "
		"AND project_version = $2::int AND storage_backend = $3 "
		"ORDER BY created_at DESC LIMIT 1",
		project_id, v, kg_storage_backend()), f);
}

/*
 * A .docx of the same project version already recorded with the same
 * bytes (two requests raced past the endpoint's reuse check) is not
 * recorded twice: the INSERT only happens WHERE NOT EXISTS.
 */
int
kg_export_record(const char *user_id, const char *project_id, int version,
		 const char *batch_id, const struct kg_export_file *f,
		 struct kg_err *err)
{
	char v[16], size[24];

	snprintf(v, sizeof(v), "%d", version);
	snprintf(size, sizeof(size), "%lld", f->size);
	if (project_id)
		return kg_db_exec(err,
			"INSERT INTO export_history (user_id, project_id, "
			"format, project_version, size_bytes, sha256, "
			"storage_backend, storage_key) "
			"SELECT $1, $2, 'docx', $3::int, $4::bigint, $5, $6, $7 "
			"WHERE NOT EXISTS (SELECT 1 FROM export_history "
			"  WHERE project_id = $2 AND project_version = $3::int "
			"  AND storage_backend = $6 AND storage_key = $7)", 7,
			(const char *const[]){user_id, project_id, v, size,
					      f->sha256, f->backend, f->key});
	return kg_db_exec(err,
		"INSERT INTO export_history (user_id, batch_id, format, "
		"size_bytes, sha256, storage_backend, storage_key) "
		"VALUES ($1, $2, 'zip', $3::bigint, $4, $5, $6)", 6,
		(const char *const[]){user_id, batch_id, size, f->sha256,
				      f->backend, f->key});
}

void
kg_export_file_of(const char *project_id, int version, const char *batch_id,
		  const struct kg_buf *data, struct kg_export_file *f)
{
	memset(f, 0, sizeof(*f));
	kg_hash_sha256_hex(data->data ? data->data : "", data->len, f->sha256);
	f->size = (long long)data->len;
	copy(f->backend, sizeof(f->backend), kg_storage_backend());
	if (project_id) {
		snprintf(f->key, sizeof(f->key), "exports/%s/v%d-%.16s.docx",
			 project_id, version, f->sha256);
	} else {
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(f->key, sizeof(f->key),
			 "exports/batches/%s/%s-%.16s.zip", batch_id, stamp,
			 f->sha256);
	}
}

int
kg_export_store(const char *user_id, const char *project_id, int version,
		const char *batch_id, const struct kg_buf *data,
		struct kg_export_file *f, struct kg_err *err)
{
	kg_export_file_of(project_id, version, batch_id, data, f);
	if (kg_storage_put(f->key, data->data ? data->data : "", data->len,
			   err) < 0)
		return -1;
	return kg_export_record(user_id, project_id, version, batch_id, f,
				err);
}

int
kg_export_load(const struct kg_export_file *f, struct kg_buf *out,
	       struct kg_err *err)
{
	size_t before = out->len;
	char sha[65];

	if (kg_storage_get(f->key, out, KG_EXPORT_MAX_BYTES, err) < 0)
		return -1;
	kg_hash_sha256_hex(out->data + before, out->len - before, sha);
	if ((long long)(out->len - before) != f->size ||
	    strcmp(sha, f->sha256)) {
		KG_ERROR("stored export %s does not match its record", f->key);
		out->len = before;
		if (out->data)
			out->data[before] = '\0';
		return kg_err_set(err, 500, "export_corrupt",
				  "the stored file does not match its record");
	}
	return 0;
}

/* ---- endpoint <-> worker ------------------------------------------------ */

static char *
task_json(const char *kind, const char *project_id, const char *batch_id,
	  const char *user_id, const char *request_id, long long deadline)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "kind", kind);
	if (project_id)
		cJSON_AddStringToObject(o, "project_id", project_id);
	if (batch_id)
		cJSON_AddStringToObject(o, "batch_id", batch_id);
	cJSON_AddStringToObject(o, "user_id", user_id);
	cJSON_AddStringToObject(o, "request_id", request_id);
	cJSON_AddNumberToObject(o, "deadline", (double)deadline);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int
get_str(const cJSON *o, const char *name, char *dst, size_t size, int need)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return need || (v && !cJSON_IsNull(v)) ? -1 : 0;
	copy(dst, size, v->valuestring);
	return 0;
}

static int
str_or_null(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return !v || cJSON_IsNull(v) || cJSON_IsString(v);
}

long long
kg_export_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
kg_export_task_parse(const char *json, struct kg_export_task *t)
{
	cJSON *o = cJSON_Parse(json);
	const cJSON *d;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(o))
		goto out;
	/* the queue's rule (a kind, a project or a batch), and the export's
	 * one more: an id that is there is a string (the queue reads any
	 * other value as "") */
	if (kg_queue_task_of(o, &t->q) < 0 || !str_or_null(o, "project_id") ||
	    !str_or_null(o, "batch_id") ||
	    get_str(o, "user_id", t->user_id, sizeof(t->user_id), 1) < 0 ||
	    get_str(o, "request_id", t->request_id, sizeof(t->request_id),
		    1) < 0)
		goto out;
	d = cJSON_GetObjectItemCaseSensitive(o, "deadline");
	t->deadline = cJSON_IsNumber(d) ? (long long)d->valuedouble : 0;
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

static int
parse_answer(const char *json, struct kg_export_file *f, struct kg_err *err)
{
	cJSON *o = cJSON_Parse(json);
	const cJSON *ok, *st, *size;
	char code[32] = "export_failed", msg[256] = "export failed";
	int rc = -1;

	memset(f, 0, sizeof(*f));
	ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
	if (cJSON_IsTrue(ok)) {
		size = cJSON_GetObjectItemCaseSensitive(o, "size");
		if (get_str(o, "backend", f->backend, sizeof(f->backend), 1) ||
		    get_str(o, "key", f->key, sizeof(f->key), 1) ||
		    get_str(o, "sha256", f->sha256, sizeof(f->sha256), 1) ||
		    !cJSON_IsNumber(size)) {
			kg_err_set(err, 500, "internal",
				   "malformed answer from the worker");
			goto out;
		}
		f->size = (long long)size->valuedouble;
		rc = 0;
		goto out;
	}
	st = cJSON_GetObjectItemCaseSensitive(o, "status");
	get_str(o, "error", code, sizeof(code), 0);
	get_str(o, "message", msg, sizeof(msg), 0);
	kg_err_set(err,
		   cJSON_IsNumber(st) && st->valueint >= 400 &&
				   st->valueint <= 599
			   ? st->valueint
			   : 500,
		   code, "%s", msg);
out:
	cJSON_Delete(o);
	return rc;
}

/*
 * The wait is a BLPOP on a connection of its own: the shared connection
 * has a [redis] timeout_ms read timeout (2 s) that a 30 s BLPOP would
 * trip, and must not be held by a long block anyway.
 */
static int
wait_answer(const char *key, long long wait_s, struct kg_export_file *f,
	    struct kg_err *err)
{
	struct timeval tv = {.tv_sec = (time_t)wait_s + 5};
	redisContext *c = kg_redis_connect(err);
	redisReply *r = NULL;
	char secs[24];
	int rc = -1;

	if (!c)
		return -1;
	redisSetTimeout(c, tv);
	snprintf(secs, sizeof(secs), "%lld", wait_s);
	r = redisCommand(c, "BLPOP %s %s", key, secs);
	if (!r || r->type == REDIS_REPLY_ERROR) {
		kg_err_set(err, 503, "unavailable",
			   "the export queue is not available");
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		kg_err_set(err, 504, "export_timeout",
			   "the export did not finish within %lld s", wait_s);
		goto out;
	}
	rc = parse_answer(r->element[1]->str, f, err);
out:
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return rc;
}

int
kg_export_request(const char *kind, const char *project_id,
		  const char *batch_id, const char *user_id,
		  struct kg_export_file *f, struct kg_err *err)
{
	long long wait_s = kg_config_int("export", "wait_timeout");
	unsigned char rnd[16];
	char request_id[40], key[80];
	char *task;
	int rc;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return kg_err_set(err, 500, "internal", "no randomness");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(request_id + 2 * i, 3, "%02x", rnd[i]);
	task = task_json(kind, project_id, batch_id, user_id, request_id,
			 kg_export_now_ms() + wait_s * 1000);
	if (!task)
		return kg_err_set(err, 500, "internal", "out of memory");
	rc = kg_queue_push(KG_QUEUE_EXPORT, task, err);
	free(task);
	if (rc < 0)
		return -1;
	snprintf(key, sizeof(key), DONE_KEY_FMT, request_id);
	return wait_answer(key, wait_s, f, err);
}

int
kg_export_reply(const char *request_id, const struct kg_export_file *f,
		const struct kg_err *failure, struct kg_err *err)
{
	cJSON *o = cJSON_CreateObject();
	char key[80], ttl[24];
	redisReply *r;
	char *s;

	if (f && !failure) {
		cJSON_AddTrueToObject(o, "ok");
		cJSON_AddStringToObject(o, "backend", f->backend);
		cJSON_AddStringToObject(o, "key", f->key);
		cJSON_AddStringToObject(o, "sha256", f->sha256);
		cJSON_AddNumberToObject(o, "size", (double)f->size);
	} else {
		cJSON_AddFalseToObject(o, "ok");
		cJSON_AddNumberToObject(o, "status",
					failure ? failure->status : 500);
		cJSON_AddStringToObject(o, "error",
					failure ? failure->code : "internal");
		cJSON_AddStringToObject(o, "message",
					failure ? failure->message
						: "export failed");
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		return kg_err_set(err, 500, "internal", "out of memory");
	snprintf(key, sizeof(key), DONE_KEY_FMT, request_id);
	snprintf(ttl, sizeof(ttl), "%lld",
		 kg_config_int("export", "wait_timeout") + DONE_TTL_EXTRA);
	/* one script: the list never exists without its expiry */
	r = kg_redis_cmd(err,
			 "EVAL %s 1 %s %s %s",
			 "redis.call('RPUSH', KEYS[1], ARGV[1]) "
			 "redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1",
			 key, s, ttl);
	free(s);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		freeReplyObject(r);
		return kg_err_set(err, 503, "unavailable",
				  "cannot answer the export request");
	}
	freeReplyObject(r);
	return 0;
}

/*
 * Remove the files named by rows (storage_key, storage_backend).  A file
 * on another backend than the configured one cannot be reached from
 * here: it is left in place (logged).  -1 at the first file that could
 * not be removed (the caller keeps its rows, so it can simply retry).
 */
static int
purge_rows(PGresult *res, struct kg_err *err)
{
	int n = 0;

	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *key = PQgetvalue(res, i, 0);

		if (strcmp(PQgetvalue(res, i, 1), kg_storage_backend())) {
			KG_WARN("export %s is on storage %s, not the configured "
				"one: left in place", key,
				PQgetvalue(res, i, 1));
			continue;
		}
		if (kg_storage_delete(key, err) < 0) {
			n = -1;
			break;
		}
		n++;
	}
	PQclear(res);
	return n;
}

int
kg_export_purge_user(const char *email, struct kg_err *err)
{
	char norm[KG_EMAIL_MAX + 1];

	if (kg_user_normalize_email(email, norm, err) < 0)
		return -1;
	return purge_rows(KG_DB_QUERY(err,
		"WITH u AS (SELECT id FROM users WHERE lower(email) = $1),"
		" b AS (SELECT id FROM batches WHERE owner_id IN"
		"  (SELECT id FROM u))"
		" SELECT DISTINCT e.storage_key, e.storage_backend"
		" FROM export_history e WHERE e.user_id IN (SELECT id FROM u)"
		"  OR e.batch_id IN (SELECT id FROM b)"
		"  OR e.project_id IN (SELECT p.id FROM projects p"
		"   WHERE p.batch_id IN (SELECT id FROM b))",
		norm), err);
}

int
kg_export_purge_target(const char *batch_id, const char *project_id,
		       struct kg_err *err)
{
	if (project_id)
		return purge_rows(KG_DB_QUERY(err,
			"SELECT DISTINCT storage_key, storage_backend"
			" FROM export_history WHERE project_id = $1",
			project_id), err);
	return purge_rows(KG_DB_QUERY(err,
		"SELECT DISTINCT e.storage_key, e.storage_backend"
		" FROM export_history e WHERE e.batch_id = $1"
		"  OR e.project_id IN (SELECT p.id FROM projects p"
		"   WHERE p.batch_id = $1)",
		batch_id), err);
}

int
kg_export_reusable_zip(const char *batch_id, struct kg_export_file *f,
		       struct kg_err *err)
{
	return reuse_row(KG_DB_QUERY(err,
		"SELECT e.storage_backend, e.storage_key, e.sha256, e.size_bytes "
		"FROM export_history e WHERE e.batch_id = $1 AND e.format = 'zip' "
		"AND e.storage_backend = $2 AND e.created_at >= (SELECT "
		"greatest(b.updated_at, max(p.updated_at)) FROM batches b "
		"LEFT JOIN projects p ON p.batch_id = b.id WHERE b.id = $1 "
		"GROUP BY b.updated_at) ORDER BY e.created_at DESC LIMIT 1",
		batch_id, kg_storage_backend()), f);
}

/*
 * Rows older than the cut, except the newest of each card and of each
 * batch; `shared` when a row that stays names the same stored file (a
 * card's .docx is deterministic, so two rows can share one key).
 */
#define PRUNE_SQL                                                          \
	"WITH ranked AS (SELECT id, storage_key, storage_backend, created_at," \
	"  row_number() OVER (PARTITION BY coalesce(project_id, batch_id)"    \
	"  ORDER BY created_at DESC, id) AS rn FROM export_history),"         \
	" old AS (SELECT * FROM ranked WHERE rn > 1"                           \
	"  AND created_at < now() - $1::bigint * interval '1 second'"         \
	"  ORDER BY created_at LIMIT $2::int)"                                 \
	" SELECT o.id, o.storage_key, o.storage_backend, EXISTS (SELECT 1"     \
	"  FROM export_history k WHERE k.storage_key = o.storage_key"          \
	"  AND k.storage_backend = o.storage_backend"                          \
	"  AND k.id NOT IN (SELECT id FROM old)) FROM old o"

long long
kg_export_prune(long long older_than_s, int limit, struct kg_err *err)
{
	char age[24], lim[16];
	PGresult *res;
	long long n = 0;

	snprintf(age, sizeof(age), "%lld", older_than_s);
	snprintf(lim, sizeof(lim), "%d", limit);
	res = KG_DB_QUERY(err, PRUNE_SQL, age, lim);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *key = PQgetvalue(res, i, 1);
		int other = strcmp(PQgetvalue(res, i, 2), kg_storage_backend());

		/* files first: a storage failure keeps the row (retry) */
		if (other) {
			KG_WARN("export %s is on storage %s, not the configured "
				"one: left in place", key, PQgetvalue(res, i, 2));
			continue;
		}
		if (PQgetvalue(res, i, 3)[0] != 't' &&
		    kg_storage_delete(key, err) < 0) {
			n = -1;
			break;
		}
		if (kg_db_exec(err, "DELETE FROM export_history WHERE id = $1",
			       1, (const char *const[]){PQgetvalue(res, i, 0)}) < 0) {
			n = -1;
			break;
		}
		n++;
	}
	PQclear(res);
	return n;
}
