#include "kg_migrate.h"
#include "kg_buf.h"
#include "kg_db.h"
#include "kg_log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATION_MAX_BYTES (4u << 20)
#define MIGRATION_LOCK "7162534"	/* arbitrary advisory lock id */

struct migration {
	char version[256];	/* file name without ".sql" */
	const char *sql;
	int applied;
};

static int
is_migration(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 8 && d->d_name[0] >= '0' && d->d_name[0] <= '9' &&
	       d->d_name[1] >= '0' && d->d_name[1] <= '9' &&
	       d->d_name[2] >= '0' && d->d_name[2] <= '9' &&
	       d->d_name[3] == '_' && !strcmp(d->d_name + n - 4, ".sql");
}

static int
apply_one(void *arg, struct kg_err *err)
{
	struct migration *m = arg;
	PGresult *res;
	int done;

	if (kg_db_exec(err, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")",
		       0, NULL) < 0)
		return -1;
	res = KG_DB_QUERY(err, "SELECT 1 FROM schema_migrations "
			       "WHERE version = $1", m->version);
	if (!res)
		return -1;
	done = PQntuples(res) > 0;
	PQclear(res);
	if (done)
		return 0;
	if (kg_db_exec_script(err, m->sql) < 0)
		return kg_err_set(err, 500, "migration_failed",
				  "migration %s failed (see log)",
				  m->version);
	if (kg_db_exec(err, "INSERT INTO schema_migrations (version) "
			    "VALUES ($1)", 1,
		       (const char *const[]){m->version}) < 0)
		return -1;
	m->applied = 1;
	return 0;
}

static int
run_file(const char *dir, const char *name, struct kg_err *err)
{
	struct migration m = {0};
	struct kg_buf sql = {0};
	char path[4352];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(m.version, sizeof(m.version), "%.*s",
		 (int)(strlen(name) - 4), name);
	if (kg_buf_read_file(&sql, path, MIGRATION_MAX_BYTES) < 0) {
		kg_buf_free(&sql);
		return kg_err_set(err, 500, "migration_failed",
				  "cannot read %s: %s", path,
				  strerror(errno));
	}
	m.sql = kg_buf_str(&sql);
	rc = kg_db_tx(err, apply_one, &m);
	kg_buf_free(&sql);
	if (rc < 0)
		return -1;
	if (m.applied)
		KG_INFO("applied migration %s", m.version);
	return m.applied;
}

int
kg_migrate(const char *sql_dir, struct kg_err *err)
{
	struct dirent **names = NULL;
	int n, applied = 0;

	if (kg_db_exec(err,
		       "CREATE TABLE IF NOT EXISTS schema_migrations ("
		       " version text PRIMARY KEY,"
		       " applied_at timestamptz NOT NULL DEFAULT now())",
		       0, NULL) < 0)
		return -1;
	n = scandir(sql_dir, &names, is_migration, alphasort);
	if (n < 0)
		return kg_err_set(err, 500, "migration_failed",
				  "cannot read directory %s: %s", sql_dir,
				  strerror(errno));
	for (int i = 0; i < n; i++) {
		int rc = applied < 0 ? 0 : run_file(sql_dir, names[i]->d_name,
						    err);

		applied = rc < 0 ? -1 : applied + rc;
		free(names[i]);
	}
	free(names);
	return applied;
}

int
kg_migrate_current(char *out, size_t size, struct kg_err *err)
{
	PGresult *res = kg_db_query(err,
				    "SELECT coalesce(max(version), '') "
				    "FROM schema_migrations", 0, NULL);

	if (!res)
		return -1;
	snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}
