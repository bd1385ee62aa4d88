#include "kg_batch.h"
#include "kg_auth.h"
#include "kg_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_JSON                                                          \
	"json_build_object("                                                \
	"'id', b.id, 'name', b.name, 'source_filename', b.source_filename," \
	"'status', b.status, 'row_count', b.row_count,"                     \
	"'created_at', b.created_at, 'updated_at', b.updated_at,"           \
	"'completed_at', b.completed_at, 'event_seq', b.event_seq,"         \
	"'progress', (SELECT coalesce(round(avg(progress)), 0)::int"        \
	"  FROM projects WHERE batch_id = b.id),"                           \
	"'cost', (SELECT coalesce(sum(cost), 0) FROM ai_calls"              \
	"  WHERE batch_id = b.id), 'cost_cap', b.cost_cap,"                 \
	"'counts', (SELECT json_build_object("                              \
	"  'PENDING', count(*) FILTER (WHERE status = 'PENDING'),"          \
	"  'QUEUED', count(*) FILTER (WHERE status = 'QUEUED'),"            \
	"  'GENERATING', count(*) FILTER (WHERE status = 'GENERATING'),"    \
	"  'COMPLETED', count(*) FILTER (WHERE status = 'COMPLETED'),"      \
	"  'FAILED', count(*) FILTER (WHERE status = 'FAILED'))"            \
	"  FROM projects WHERE batch_id = b.id)"

#define PROJECTS_JSON                                                      \
	"'projects', (SELECT coalesce(json_agg(json_build_object("          \
	"  'id', p.id, 'row', p.row_number, 'name', p.name,"                \
	"  'status', p.status, 'progress', p.progress,"                     \
	"  'quality_score', p.quality_score, 'provider', p.provider,"       \
	"  'error', p.error, 'updated_at', p.updated_at)"                   \
	"  ORDER BY p.row_number), '[]'::json)"                             \
	"  FROM projects p WHERE p.batch_id = b.id)"

/* Parses the single JSON text cell of a result (PostgreSQL built it). */
static cJSON *
json_cell(PGresult *res, struct kg_err *err)
{
	cJSON *o = cJSON_Parse(PQgetvalue(res, 0, 0));

	if (!o)
		kg_err_set(err, 500, "internal", "malformed JSON from database");
	return o;
}

cJSON *
kg_batch_get(const char *id, const struct kg_user *u, int with_projects,
	     struct kg_err *err)
{
	static const char *const sql[2] = {
		"SELECT " BATCH_JSON ") FROM batches b WHERE b.id = $1::uuid"
		" AND (b.owner_id = $2::uuid OR $3::boolean)",
		"SELECT " BATCH_JSON ", " PROJECTS_JSON ") FROM batches b"
		" WHERE b.id = $1::uuid"
		" AND (b.owner_id = $2::uuid OR $3::boolean)",
	};
	PGresult *res = KG_DB_QUERY(err, sql[!!with_projects], id, u->id,
				    kg_auth_admin_param(u));
	cJSON *o = NULL;

	if (!res)
		return NULL;
	if (PQntuples(res) == 1)
		o = json_cell(res, err);
	else
		kg_err_set(err, 404, "not_found", "no such batch");
	PQclear(res);
	return o;
}

cJSON *
kg_batch_list(const struct kg_user *u, int all, long long limit,
	      long long offset, struct kg_err *err)
{
	char lim[24], off[24];
	const char *every = all ? kg_auth_admin_param(u) : "f";
	PGresult *res;
	cJSON *o = NULL;

	snprintf(lim, sizeof(lim), "%lld", limit);
	snprintf(off, sizeof(off), "%lld", offset);
	res = KG_DB_QUERY(err,
		"WITH mine AS (SELECT * FROM batches b"
		"  WHERE b.owner_id = $1::uuid OR $2::boolean)"
		" SELECT json_build_object("
		"  'total', (SELECT count(*) FROM mine),"
		"  'limit', $3::int, 'offset', $4::int,"
		"  'batches', (SELECT coalesce(json_agg(x.j ORDER BY x.created_at"
		"    DESC, x.id), '[]'::json) FROM (SELECT " BATCH_JSON ") AS j,"
		"    b.created_at, b.id FROM mine b"
		"    ORDER BY b.created_at DESC, b.id LIMIT $3::int"
		"    OFFSET $4::int) x))",
		u->id, every, lim, off);
	if (!res)
		return NULL;
	o = json_cell(res, err);
	PQclear(res);
	return o;
}

struct create_args {
	const struct kg_user *u;
	const char *name;
	const char *filename;
	const char *projects_json;
	char count[16];
	char *id_out;
};

static int
create_tx(void *arg, struct kg_err *err)
{
	struct create_args *a = arg;
	PGresult *res;

	res = KG_DB_QUERY(err,
		"INSERT INTO batches (owner_id, name, source_filename, "
		"row_count) VALUES ($1::uuid, $2, $3, $4::int) RETURNING id",
		a->u->id, a->name, a->filename, a->count);
	if (!res)
		return -1;
	snprintf(a->id_out, 37, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	/* All projects in one statement from the JSON array. */
	return kg_db_exec(err,
		"INSERT INTO projects (batch_id, row_number, name, input)"
		" SELECT $1::uuid, (e->>'row')::int, e->>'name', e->'input'"
		" FROM jsonb_array_elements($2::jsonb) AS e",
		2, (const char *const[]){a->id_out, a->projects_json});
}

int
kg_batch_create(const struct kg_user *u, const char *name,
		const char *filename, const cJSON *projects, char id_out[37],
		struct kg_err *err)
{
	struct create_args a = {u, name, filename, NULL, "", id_out};
	char *json = cJSON_PrintUnformatted(projects);
	int rc;

	if (!json)
		return kg_err_set(err, 500, "internal", "out of memory");
	a.projects_json = json;
	snprintf(a.count, sizeof(a.count), "%d",
		 cJSON_GetArraySize(projects));
	rc = kg_db_tx(err, create_tx, &a);
	free(json);
	return rc;
}

int
kg_batch_visible(const char *id, const struct kg_user *u, struct kg_err *err)
{
	PGresult *res = KG_DB_QUERY(err, "SELECT 1 FROM batches WHERE id = "
					 "$1::uuid AND (owner_id = $2::uuid "
					 "OR $3::boolean)",
				    id, u->id, kg_auth_admin_param(u));
	int n;

	if (!res)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n == 1 ? 0 : kg_err_set(err, 404, "not_found", "no such batch");
}
