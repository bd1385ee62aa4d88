/*
 * kg_project - see kg_project.h for the rules.
 *
 * Layout: the JSON reads (assembled by PostgreSQL with
 * json_build_object, like kg_batch), then the one change transaction that
 * every writer (edit, revert, AI store, regeneration check) goes through.
 */
#include "kg_project.h"
#include "kg_array.h"
#include "kg_utf8.h"
#include "kg_auth.h"
#include "kg_batch.h"
#include "kg_buf.h"
#include "kg_db.h"
#include "kg_event.h"
#include "kg_jsonw.h"
#include "kg_log.h"
#include "kg_quality.h"
#include "kg_queue.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Reads                                                              */
/* ------------------------------------------------------------------ */

static cJSON *
json_cell(PGresult *res, int col, struct kg_err *err)
{
	cJSON *o = cJSON_Parse(PQgetvalue(res, 0, col));

	if (!o)
		kg_err_set(err, 500, "internal", "malformed JSON from database");
	return o;
}

/* Owner scoping of a project: $2 user id, $3 admin flag. */
#define OWNED                                                                \
	" FROM projects p JOIN batches b ON b.id = p.batch_id"               \
	" WHERE p.id = $1::uuid AND " KG_BATCH_VISIBLE

/*
 * The card in ONE statement (one snapshot: the sections belong to the
 * version shown), as plain rows: one per defined section in card order,
 * the project's columns on each (its two JSON documents only on the
 * first), then the signed-in user and its session state
 * (KG_AUTH_SESSION_COLUMNS): $1 project, $2 user, $3 the token's jti.
 * The user is the driving row, so a user who is gone gives no row (401)
 * and a project this user may not see gives one row whose project
 * columns are NULL (404); ownership is the join's condition, with the
 * admin role as just read.  The JSON is made once, in C, by card_json().
 * No section_defs at all still gives one row.  The sections being
 * regenerated are read once per card (an uncorrelated sub-select on $1,
 * which is p.id whenever p is visible, and d.key is NULL when it is
 * not), not once per section as a correlated EXISTS was: one scan of
 * regeneration_requests instead of eight.
 */
#define CARD_SQL                                                             \
	"SELECT p.id, p.batch_id, p.row_number, p.name, p.status,"          \
	" p.progress, p.version, p.provider, p.error,"                      \
	" CASE WHEN d.position IS NOT DISTINCT FROM f.first THEN p.input END," \
	" p.quality_score,"                                                 \
	" CASE WHEN d.position IS NOT DISTINCT FROM f.first THEN p.quality END," \
	" p.updated_at,"                                                    \
	" d.key, d.title, d.position, d.min_words, d.max_words, s.body,"    \
	" s.origin, s.reviewed, s.provider, s.updated_at, s.version,"       \
	" COALESCE(d.key = ANY (ARRAY(SELECT r.key"                         \
	"  FROM regeneration_requests r WHERE r.project_id = $1::uuid)),"   \
	"  false), "                                                        \
	KG_AUTH_SESSION_COLUMNS("$3")                                        \
	" FROM users u LEFT JOIN (projects p JOIN batches b ON b.id = p.batch_id" \
	"  CROSS JOIN (SELECT min(position) AS first FROM section_defs) f"   \
	"  LEFT JOIN section_defs d ON true"                                 \
	"  LEFT JOIN sections s ON s.project_id = p.id AND s.key = d.key)"   \
	" ON p.id = $1::uuid AND (b.owner_id = u.id OR u.role = 'admin')"   \
	" WHERE u.id = $2::uuid"                                             \
	" ORDER BY d.position"

enum card_col {
	C_ID, C_BATCH, C_ROW, C_NAME, C_STATUS, C_PROGRESS, C_VERSION,
	C_PROVIDER, C_ERROR, C_INPUT, C_SCORE, C_QUALITY, C_UPDATED,
	S_KEY, S_TITLE, S_POSITION, S_MIN, S_MAX, S_BODY, S_ORIGIN,
	S_REVIEWED, S_PROVIDER, S_UPDATED, S_VERSION, S_REGEN, C_USER
};

static int
cell_is(const PGresult *res, int row, int col, const char *value)
{
	return !PQgetisnull(res, row, col) &&
	       !strcmp(PQgetvalue(res, row, col), value);
}

/* An AI section written by the offline drafter is labelled as such. */
static int
section_offline(const PGresult *res, int row)
{
	return cell_is(res, row, S_ORIGIN, "ai") &&
	       cell_is(res, row, S_PROVIDER, "offline");
}

static void
section_offline_json(struct kg_jsonw *w, const PGresult *res, int row,
		     const void *quality)
{
	(void)quality;
	kg_jsonw_bool(w, section_offline(res, row));
}

/* The section's quality flags: quality.sections.<key>, else []. */
static void
section_flags(struct kg_jsonw *w, const PGresult *res, int row,
	      const void *quality)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(quality, "sections"),
		PQgetvalue(res, row, S_KEY));
	char *text = f ? cJSON_PrintUnformatted(f) : NULL;

	if (f && !text)
		w->oom = 1;
	kg_jsonw_raw(w, text ? text : "[]");
	free(text);
}

static const struct kg_jsonw_col section_cols[] = {
	{"key", KG_JSONW_TEXT, S_KEY},
	{"title", KG_JSONW_TEXT, S_TITLE},
	{"position", KG_JSONW_NUM, S_POSITION},
	{"min_words", KG_JSONW_NUM, S_MIN},
	{"max_words", KG_JSONW_NUM, S_MAX},
	{"body", KG_JSONW_TEXT, S_BODY},
	{"origin", KG_JSONW_TEXT, S_ORIGIN},
	{"reviewed", KG_JSONW_FLAG, S_REVIEWED},
	{"provider", KG_JSONW_TEXT, S_PROVIDER},
	{"offline", KG_JSONW_FN, 0, section_offline_json},
	{"updated_at", KG_JSONW_TIME, S_UPDATED},
	{"version", KG_JSONW_NUM, S_VERSION},
	{"flags", KG_JSONW_FN, 0, section_flags},
	{"regenerating", KG_JSONW_FLAG, S_REGEN},
};

/* The project's "offline": its provider, or any offline AI section. */
static void
card_offline(struct kg_jsonw *w, const PGresult *res, int row,
	     const void *quality)
{
	int offline = cell_is(res, row, C_PROVIDER, "offline");

	(void)quality;
	for (int i = 0; !offline && i < PQntuples(res); i++)
		offline = section_offline(res, i);
	kg_jsonw_bool(w, offline);
}

/* The project's quality document: the tree card_json's caller parsed
 * for the sections' flags, printed (not parsed a second time). */
static void
card_quality(struct kg_jsonw *w, const PGresult *res, int row,
	     const void *quality)
{
	char *text;

	(void)res;
	(void)row;
	if (!quality) {
		kg_jsonw_null(w);
		return;
	}
	if (!(text = cJSON_PrintUnformatted(quality))) {
		w->oom = 1;
		return;
	}
	kg_jsonw_raw(w, text);
	free(text);
}

/* One section per row, in card order; null when none is defined. */
static void
card_sections(struct kg_jsonw *w, const PGresult *res, int row,
	      const void *quality)
{
	if (PQgetisnull(res, row, S_KEY)) {
		kg_jsonw_null(w);
		return;
	}
	kg_jsonw_open(w, '[');
	for (int i = 0; i < PQntuples(res); i++) {
		kg_jsonw_open(w, '{');
		kg_jsonw_row(w, section_cols, KG_COUNT(section_cols), res, i,
			     0, quality);
		kg_jsonw_close(w, '}');
	}
	kg_jsonw_close(w, ']');
}

static const struct kg_jsonw_col card_cols[] = {
	{"id", KG_JSONW_TEXT, C_ID},
	{"batch_id", KG_JSONW_TEXT, C_BATCH},
	{"row", KG_JSONW_NUM, C_ROW},
	{"name", KG_JSONW_TEXT, C_NAME},
	{"status", KG_JSONW_TEXT, C_STATUS},
	{"progress", KG_JSONW_NUM, C_PROGRESS},
	{"version", KG_JSONW_NUM, C_VERSION},
	{"provider", KG_JSONW_TEXT, C_PROVIDER},
	{"offline", KG_JSONW_FN, 0, card_offline},
	{"error", KG_JSONW_TEXT, C_ERROR},
	{"input", KG_JSONW_JSON, C_INPUT},
	{"quality_score", KG_JSONW_NUM, C_SCORE},
	{"quality", KG_JSONW_FN, 0, card_quality},
	{"updated_at", KG_JSONW_TIME, C_UPDATED},
	{"sections", KG_JSONW_FN, 0, card_sections},
};

/* The card from row 0 (the project's columns) and every row's section. */
static void
card_json(struct kg_jsonw *w, const PGresult *res, const cJSON *quality)
{
	kg_jsonw_open(w, '{');
	kg_jsonw_row(w, card_cols, KG_COUNT(card_cols), res, 0, 0, quality);
	kg_jsonw_close(w, '}');
}

int
kg_project_get_json(const char *id, struct kg_user *u,
		    const struct kg_session *s, struct kg_buf *out,
		    int *version, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err, CARD_SQL, id, u->id, s->jti);
	struct kg_jsonw w = {0};
	cJSON *quality;
	int rc = -1;

	if (!res)
		return -1;
	if (kg_auth_session_row(res, 0, C_USER, s, u, err) < 0)
		goto out;
	if (PQgetisnull(res, 0, C_ID)) {
		kg_err_set(err, 404, "not_found", "no such project");
		goto out;
	}
	w.buf = *out;
	quality = PQgetisnull(res, 0, C_QUALITY) ? NULL
		: cJSON_Parse(PQgetvalue(res, 0, C_QUALITY));
	card_json(&w, res, quality);
	*out = w.buf;
	*version = atoi(PQgetvalue(res, 0, C_VERSION));
	cJSON_Delete(quality);
	rc = w.oom ? kg_err_set(err, 500, "internal", "out of memory") : 0;
out:
	PQclear(res);
	return rc;
}

cJSON *
kg_project_get(const char *id, struct kg_user *u, const struct kg_session *s,
	       struct kg_err *err)
{
	struct kg_buf b = {0};
	int version;
	cJSON *o = NULL;

	if (kg_project_get_json(id, u, s, &b, &version, err) == 0 &&
	    !(o = cJSON_ParseWithLength(b.data, b.len)))
		kg_err_set(err, 500, "internal", "out of memory");
	kg_buf_free(&b);
	return o;
}

/* 0 defined, -1 with 422 (or a database error). */
static int
check_key(const char *key, struct kg_err *err)
{
	int found = kg_db_found(KG_DB_QUERY(err,
		"SELECT 1 FROM section_defs WHERE key = $1", key));

	if (found <= 0)
		return found ? -1
			     : kg_err_set(err, 422, "unknown_section",
					  "no section \"%.64s\"", key);
	return 0;
}

int
kg_project_visible(const char *id, const struct kg_user *u,
		   struct kg_err *err)
{
	int found = kg_db_found(KG_DB_QUERY(err, "SELECT 1" OWNED, id, u->id,
					    kg_auth_admin_param(u)));

	if (found <= 0)
		return found ? -1
			     : kg_err_set(err, 404, "not_found",
					  "no such project");
	return 0;
}

cJSON *
kg_project_revisions(const char *project_id, const char *key,
		     const struct kg_user *u, long long limit,
		     long long offset, struct kg_err *err)
{
	char lim[24], off[24];
	PGresult *res;
	cJSON *o;

	if (kg_project_visible(project_id, u, err) < 0 || check_key(key, err) < 0)
		return NULL;
	snprintf(lim, sizeof(lim), "%lld", limit);
	snprintf(off, sizeof(off), "%lld", offset);
	res = KG_DB_QUERY(err,
		"SELECT json_build_object('project_id', $1::uuid,"
		" 'key', $2::text, 'limit', $3::int, 'offset', $4::int,"
		" 'total', (SELECT count(*) FROM section_revisions"
		"   WHERE project_id = $1::uuid AND key = $2),"
		" 'revisions', (SELECT coalesce(json_agg(x.j ORDER BY x.id DESC),"
		"   '[]'::json) FROM (SELECT r.id, json_build_object("
		"   'id', r.id, 'created_at', r.created_at,"
		"   'user', CASE WHEN u.id IS NULL THEN NULL ELSE"
		"     json_build_object('id', u.id, 'email', u.email,"
		"     'display_name', u.display_name) END,"
		"   'origin', r.origin, 'reviewed', r.reviewed,"
		"   'provider', r.provider, 'old_body', r.old_body,"
		"   'new_body', r.new_body, 'note', r.note) AS j"
		"   FROM section_revisions r LEFT JOIN users u ON u.id = r.user_id"
		"   WHERE r.project_id = $1::uuid AND r.key = $2"
		"   ORDER BY r.id DESC LIMIT $3::int OFFSET $4::int) x))",
		project_id, key, lim, off);
	if (!res)
		return NULL;
	o = json_cell(res, 0, err);
	PQclear(res);
	return o;
}

/* ------------------------------------------------------------------ */
/* Changes                                                            */
/* ------------------------------------------------------------------ */

enum change_kind { CHANGE_EDIT, CHANGE_REVERT, CHANGE_AI, CHANGE_CHECK };

struct change {
	enum change_kind kind;
	const char *project_id;
	const struct kg_user *u;	/* NULL: the system (worker) */
	int version;			/* expected; 0 = any */
	const struct kg_section_edit *edits;
	size_t n;
	const char *note;
	long long revision_id;		/* CHANGE_REVERT */
	const char *provider;		/* CHANGE_AI */
	struct kg_project_saved *out;
	char status[16];		/* as locked */
	const char *request_id;		/* CHANGE_AI: regeneration_requests.id
					 * (NULL: none); CHANGE_CHECK: set to
					 * the new request's id */
	char request_buf[24];
	const char *instruction;	/* CHANGE_CHECK: record a request */
};

/*
 * Lock the project row (404 if the user cannot see it).  FOR UPDATE makes a
 * second writer with the same expected version wait for the first one's
 * COMMIT; under READ COMMITTED it then reads the new version and fails
 * check_state instead of overwriting.
 */
static int
lock_project(struct change *c, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err,
		"SELECT p.version, p.status, p.batch_id"
		" FROM projects p JOIN batches b ON b.id = p.batch_id"
		" WHERE p.id = $1::uuid AND ($2::uuid IS NULL"
		" OR " KG_BATCH_VISIBLE ") FOR UPDATE OF p",
		c->project_id, c->u ? c->u->id : NULL,
		c->u ? kg_auth_admin_param(c->u) : "f");

	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return kg_err_set(err, 404, "not_found", "no such project");
	}
	c->out->version = atoi(PQgetvalue(res, 0, 0));
	snprintf(c->status, sizeof(c->status), "%s", PQgetvalue(res, 0, 1));
	snprintf(c->out->batch_id, sizeof(c->out->batch_id), "%s",
		 PQgetvalue(res, 0, 2));
	PQclear(res);
	return 0;
}

/* After the request itself was found valid: may this project change? */
static int
check_state(const struct change *c, struct kg_err *err)
{
	int version = c->out->version;
	const char *status = c->status;

	if (strcmp(status, "COMPLETED"))
		return kg_err_set(err, 409, "not_editable",
				  "the project is %s; only a COMPLETED "
				  "project can be changed", status);
	if (c->version > 0 && c->version != version)
		return kg_err_set(err, 409, "version_conflict",
				  "the project changed (version %d, not %d); "
				  "reload it and apply the change again",
				  version, c->version);
	return 0;
}

static int
check_keys(const struct change *c, struct kg_err *err)
{
	for (size_t i = 0; i < c->n; i++)
		if (check_key(c->edits[i].key, err) < 0)
			return -1;
	return 0;
}

static int
human_edit(const struct change *c, const struct kg_section_edit *e,
	   struct kg_err *err)
{
	const char *reviewed =
		e->reviewed < 0 ? NULL : e->reviewed ? "t" : "f";

	/*
	 * "Changed" means a body that differs from the stored one; the
	 * WHERE skips no-op updates, so neither updated_at nor the history
	 * moves for a section sent back unchanged.
	 */
	return kg_db_exec(err,
		"INSERT INTO sections AS s (project_id, key, body, origin,"
		" reviewed, updated_by) VALUES ($1::uuid, $2,"
		" coalesce($3::text, ''), 'human',"
		" coalesce($4::boolean, true), $5::uuid)"
		" ON CONFLICT (project_id, key) DO UPDATE SET"
		" body = coalesce($3::text, s.body),"
		" origin = CASE WHEN $3::text <> s.body THEN 'human'"
		"   ELSE s.origin END,"
		" provider = CASE WHEN $3::text <> s.body THEN NULL"
		"   ELSE s.provider END,"
		" reviewed = coalesce($4::boolean,"
		"   CASE WHEN $3::text <> s.body THEN true ELSE s.reviewed END),"
		" updated_by = $5::uuid, version = s.version + 1"
		" WHERE $3::text <> s.body OR $4::boolean <> s.reviewed",
		5, (const char *const[]){c->project_id, e->key, e->body,
					 reviewed, c->u->id});
}

static int
ai_store(const struct change *c, struct kg_err *err)
{
	const struct kg_section_edit *e = &c->edits[0];

	if (kg_db_exec(err,
		"INSERT INTO sections AS s (project_id, key, body, origin,"
		" reviewed, provider) VALUES ($1::uuid, $2, $3, 'ai', false, $4)"
		" ON CONFLICT (project_id, key) DO UPDATE SET body = $3,"
		" origin = 'ai', reviewed = false, provider = $4,"
		" updated_by = NULL, version = s.version + 1",
		4, (const char *const[]){c->project_id, e->key, e->body,
					 c->provider}) < 0)
		return -1;
	return kg_db_exec(err,
		"UPDATE projects SET provider = $2 WHERE id = $1::uuid",
		2, (const char *const[]){c->project_id, c->provider});
}

/* The revision's text becomes the body of the (single) edit. */
static int
load_revision(struct change *c, struct kg_section_edit *e, char **body,
	      struct kg_err *err)
{
	char id[24];
	PGresult *res;

	snprintf(id, sizeof(id), "%lld", c->revision_id);
	res = KG_DB_QUERY(err,
		"SELECT new_body FROM section_revisions WHERE id = $1::bigint"
		" AND project_id = $2::uuid AND key = $3",
		id, c->project_id, e->key);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return kg_err_set(err, 422, "unknown_revision",
				  "section \"%.64s\" has no revision %lld",
				  e->key, c->revision_id);
	}
	*body = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!*body)
		return kg_err_set(err, 500, "internal", "out of memory");
	e->body = *body;
	return 0;
}

/*
 * Score the card as it now stands in this transaction and store score,
 * breakdown and the bumped version in one UPDATE.
 */
static int
rescore(struct change *c, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err,
		"SELECT d.key, d.title, d.min_words, d.max_words, s.body,"
		" coalesce(s.reviewed, false), p.input"
		" FROM projects p CROSS JOIN section_defs d"
		" LEFT JOIN sections s ON s.project_id = p.id AND s.key = d.key"
		" WHERE p.id = $1::uuid ORDER BY d.position", c->project_id);
	struct kg_section_def *defs = NULL;
	struct kg_quality_section *secs = NULL;
	cJSON *input = NULL, *q = NULL;
	char *qjson = NULL, score[16];
	int n, rc = -1;

	if (!res)
		return -1;
	n = PQntuples(res);
	defs = calloc((size_t)n + 1, sizeof(*defs));
	secs = calloc((size_t)n + 1, sizeof(*secs));
	if (!defs || !secs) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		defs[i] = (struct kg_section_def){
			PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			atoi(PQgetvalue(res, i, 2)),
			atoi(PQgetvalue(res, i, 3))};
		secs[i] = (struct kg_quality_section){
			PQgetvalue(res, i, 0),
			PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4),
			PQgetvalue(res, i, 5)[0] == 't'};
	}
	if (n)
		input = cJSON_Parse(PQgetvalue(res, 0, 6));
	q = kg_quality_score(input, defs, (size_t)n, secs, (size_t)n);
	qjson = q ? cJSON_PrintUnformatted(q) : NULL;
	if (!qjson) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto out;
	}
	c->out->quality_score = (int)cJSON_GetNumberValue(
		cJSON_GetObjectItemCaseSensitive(q, "score"));
	PQclear(res);
	snprintf(score, sizeof(score), "%d", c->out->quality_score);
	res = KG_DB_QUERY(err,
		"UPDATE projects SET version = version + 1,"
		" quality_score = $2::smallint, quality = $3::jsonb"
		" WHERE id = $1::uuid RETURNING version",
		c->project_id, score, qjson);
	if (!res)
		goto out;
	c->out->version = atoi(PQgetvalue(res, 0, 0));
	rc = 0;
out:
	PQclear(res);
	free(qjson);
	cJSON_Delete(q);
	cJSON_Delete(input);
	free(secs);
	free(defs);
	return rc;
}

/*
 * A regeneration request (sql/004_regenerate.sql).  CHANGE_CHECK records
 * it; CHANGE_AI with a request consumes it: the row must still exist (a
 * duplicate delivery finds it gone: 409 "already_done") and its
 * requested_version, not the caller's, is the expected version, since a
 * regeneration stored meanwhile may have moved it on (rebase_requests).
 */
static int
record_request(struct change *c, struct kg_err *err)
{
	char v[16];
	PGresult *res;

	snprintf(v, sizeof(v), "%d", c->out->version);
	res = KG_DB_QUERY(err,
		"INSERT INTO regeneration_requests (project_id, key, instruction,"
		" requested_version, requested_by) VALUES ($1::uuid, $2, $3,"
		" $4::int, $5::uuid) RETURNING id", c->project_id,
		c->edits[0].key, c->instruction ? c->instruction : "", v,
		c->u->id);
	if (!res)
		return -1;
	snprintf(c->request_buf, sizeof(c->request_buf), "%s",
		 PQgetvalue(res, 0, 0));
	c->request_id = c->request_buf;
	PQclear(res);
	return 0;
}

static int
consume_request(struct change *c, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err,
		"DELETE FROM regeneration_requests WHERE id = $1::bigint"
		" AND project_id = $2::uuid AND key = $3"
		" RETURNING requested_version", c->request_id, c->project_id,
		c->edits[0].key);
	int found;

	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		c->version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!found)
		return kg_err_set(err, 409, "already_done",
				  "regeneration request %s is gone",
				  c->request_id);
	return 0;
}

/* After our own regeneration moved the card from `old` to the new
 * version, the other pending requests based on `old` still hold. */
static int
rebase_requests(struct change *c, int old, struct kg_err *err)
{
	char from[16], to[16];

	snprintf(from, sizeof(from), "%d", old);
	snprintf(to, sizeof(to), "%d", c->out->version);
	return kg_db_exec(err,
		"UPDATE regeneration_requests SET requested_version = $3::int"
		" WHERE project_id = $1::uuid AND requested_version = $2::int",
		3, (const char *const[]){c->project_id, from, to});
}

static int
change_tx(void *arg, struct kg_err *err)
{
	struct change *c = arg;
	struct kg_section_edit revert;
	char *revert_body = NULL;
	int rc = -1, locked_version;

	c->out->seq = -1;
	if (lock_project(c, err) < 0 || check_keys(c, err) < 0)
		return -1;
	if (c->kind == CHANGE_AI && c->request_id &&
	    consume_request(c, err) < 0)
		return -1;
	if (check_state(c, err) < 0)
		return -1;
	locked_version = c->out->version;
	if (c->kind == CHANGE_CHECK)
		return c->instruction ? record_request(c, err) : 0;
	if (kg_db_exec(err,
		       "SELECT set_config('kartograf.revision_note', $1, true)",
		       1, (const char *const[]){c->note ? c->note : ""}) < 0)
		return -1;
	switch (c->kind) {
	case CHANGE_REVERT:
		revert = c->edits[0];
		if (load_revision(c, &revert, &revert_body, err) < 0 ||
		    human_edit(c, &revert, err) < 0)
			goto out;
		break;
	case CHANGE_AI:
		if (ai_store(c, err) < 0)
			goto out;
		break;
	default:
		for (size_t i = 0; i < c->n; i++)
			if (human_edit(c, &c->edits[i], err) < 0)
				goto out;
		break;
	}
	if (rescore(c, err) < 0)
		goto out;
	if (c->kind == CHANGE_AI && c->request_id &&
	    rebase_requests(c, locked_version, err) < 0)
		goto out;
	c->out->seq = kg_event_next_seq(c->out->batch_id, err);
	rc = c->out->seq < 0 ? -1 : 0;
out:
	free(revert_body);
	return rc;
}

int
kg_project_edit(const char *project_id, const struct kg_user *u,
		int version, const struct kg_section_edit *edits, size_t n,
		const char *note, struct kg_project_saved *out,
		struct kg_err *err)
{
	struct change c = {CHANGE_EDIT, project_id, u, version, edits, n,
			   note, 0, NULL, out};

	return kg_db_tx(err, change_tx, &c);
}

int
kg_project_revert(const char *project_id, const struct kg_user *u,
		  int version, const char *key, long long revision_id,
		  struct kg_project_saved *out, struct kg_err *err)
{
	struct kg_section_edit e = {key, NULL, 1};
	char note[48];
	struct change c = {CHANGE_REVERT, project_id, u, version, &e, 1,
			   note, revision_id, NULL, out};

	snprintf(note, sizeof(note), "revert to #%lld", revision_id);
	return kg_db_tx(err, change_tx, &c);
}

static int
store_ai(const char *request_id, const char *project_id, const char *key,
	 const char *body, const char *provider, const char *note,
	 int expected_version, struct kg_project_saved *out,
	 struct kg_err *err)
{
	struct kg_section_edit e = {key, NULL, 0};
	struct change c = {CHANGE_AI, project_id, NULL, expected_version, &e,
			   1, note, 0, provider, out};
	char *clean;

	c.request_id = request_id;
	int rc;

	if (!provider || !*provider)
		return kg_err_set(err, 400, "bad_request",
				  "AI text needs its provider");
	if (kg_utf8_clean(body ? body : "", body ? strlen(body) : 0,
				  KG_SECTION_MAX_CHARS, &clean, err) < 0)
		return -1;
	e.body = clean;
	rc = kg_db_tx(err, change_tx, &c);
	free(clean);
	return rc;
}

int
kg_project_store_ai_section(const char *project_id, const char *key,
			    const char *body, const char *provider,
			    const char *note, int expected_version,
			    struct kg_project_saved *out, struct kg_err *err)
{
	return store_ai(NULL, project_id, key, body, provider, note,
			expected_version, out, err);
}

int
kg_project_store_regeneration(const char *request_id,
			      const char *project_id, const char *key,
			      const char *body, const char *provider,
			      const char *note, struct kg_project_saved *out,
			      struct kg_err *err)
{
	return store_ai(request_id, project_id, key, body, provider, note, 0,
			out, err);
}

int
kg_project_publish(const char *project_id, const struct kg_project_saved *s,
		   const char *why, struct kg_err *err)
{
	struct kg_event ev = {"project.status_changed", s->batch_id,
			      project_id, "COMPLETED", 100, s->quality_score,
			      why};

	if (s->seq < 0)
		return 0;
	return kg_event_publish(&ev, s->seq, err);
}

char *
kg_project_regen_task(const struct kg_regen_task *t)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "kind", KG_TASK_REGENERATE);
	cJSON_AddStringToObject(o, "project_id", t->project_id);
	cJSON_AddStringToObject(o, "batch_id", t->batch_id);
	cJSON_AddStringToObject(o, "section", t->section);
	cJSON_AddStringToObject(o, "instruction",
				t->instruction ? t->instruction : "");
	cJSON_AddNumberToObject(o, "version", t->version);
	cJSON_AddStringToObject(o, "user_id", t->user_id);
	cJSON_AddStringToObject(o, "request_id", t->request_id);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int
kg_project_request_regeneration(const char *project_id, const char *key,
				const struct kg_user *u, int version,
				const char *instruction, struct kg_err *err)
{
	struct kg_section_edit e = {key, NULL, -1};
	struct kg_project_saved saved = {0};
	struct change c = {CHANGE_CHECK, project_id, u, version, &e, 1, NULL,
			   0, NULL, &saved};
	char *json;
	int rc;

	/* The request is recorded in the same transaction as the check. */
	c.instruction = instruction ? instruction : "";
	if (kg_db_tx(err, change_tx, &c) < 0)
		return -1;
	json = kg_project_regen_task(&(struct kg_regen_task){
		project_id, saved.batch_id, key, c.instruction, u->id,
		c.request_buf, version});
	if (!json)
		return kg_err_set(err, 500, "internal", "out of memory");
	rc = kg_queue_push(KG_QUEUE_REGENERATE, json, err);
	if (rc == 0) {
		KG_INFO("regeneration of %s/%s queued (request %s)",
			project_id, key, c.request_buf);
	} else {
		/* Recorded in PostgreSQL: the worker's reconciler queues it
		 * within reconcile_interval + reconcile_grace s. */
		KG_WARN("regeneration request %s of %s/%s not queued, left to "
			"the reconciler: %s", c.request_buf, project_id, key,
			err->message);
		*err = (struct kg_err){0};
		rc = 0;
	}
	free(json);
	return rc;
}
