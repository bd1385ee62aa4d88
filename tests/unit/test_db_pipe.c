/* kg_db_pipe(_each) against the real PostgreSQL: several calls in one round
 * trip, each its own transaction; a call failing in the middle, one
 * retried after a serialization failure, and the connection broken in
 * the middle of a pipeline.  Needs a stack (KARTOGRAF_CONFIG): the
 * integration test test_db_pipe (tests/integration/test_worker.py)
 * runs this binary against the test stack.  Without one (the unit
 * tests' run) only the database-down case runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kg_config.h"
#include "kg_db.h"

#define P(...) ((const char *const[]){__VA_ARGS__})

/* No stack: a config whose database is a closed port. */
static int
setup_down(void **state)
{
	char path[] = "/tmp/kg-test-db-pipe-XXXXXX";
	struct kg_err err = {0};
	int fd = mkstemp(path), rc;

	(void)state;
	if (fd < 0 || write(fd, "[log]\nlevel = error\n", 21) != 21)
		return -1;
	close(fd);
	setenv("KARTOGRAF_DATABASE_CONNINFO", "host=127.0.0.1 port=1", 1);
	rc = kg_config_load(path, &err);
	unlink(path);
	return rc;
}

static int
setup(void **state)
{
	struct kg_err err = {0};

	(void)state;
	if (kg_config_load(NULL, &err) < 0) {
		fprintf(stderr, "config: %s\n", err.message);
		return -1;
	}
	return kg_db_exec_script(&err,
		"CREATE TEMP TABLE IF NOT EXISTS pipe_t (n int);"
		"CREATE TEMP SEQUENCE IF NOT EXISTS pipe_s;"
		"CREATE FUNCTION pg_temp.pipe_flaky() RETURNS bigint "
		"LANGUAGE plpgsql AS $$ DECLARE k bigint := nextval('pipe_s');"
		" BEGIN IF k = 1 THEN RAISE EXCEPTION 'try again' USING "
		"ERRCODE = '40001'; END IF; RETURN k; END $$;");
}

static int
teardown(void **state)
{
	(void)state;
	kg_db_close();
	kg_config_free();
	return 0;
}

static const char *
val(const struct kg_db_piped *c)
{
	return c->res ? PQgetvalue(c->res, 0, 0) : "(none)";
}

static void
clear(struct kg_db_piped *c, int n)
{
	for (int i = 0; i < n; i++)
		PQclear(c[i].res);
}

/* The middle call fails (division by zero): the others are answered
 * and committed, each in its own transaction. */
static void
test_pipe_failure_in_the_middle(void **state)
{
	static const char ins[] = "INSERT INTO pipe_t VALUES ($1::int) "
				  "RETURNING n * 10";
	struct kg_db_piped c[4] = {
		{ins, 1, P("1")},
		{"SELECT 1 / $1::int", 1, P("0")},
		{ins, 1, P("3")},
		{"SELECT $1::int + 1", 1, P("41")},
	};
	struct kg_err err = {0};
	PGresult *res;

	(void)state;
	assert_int_equal(kg_db_exec(&err, "DELETE FROM pipe_t", 0, NULL), 0);
	assert_int_equal(kg_db_pipe(c, 4), 1);
	assert_string_equal(val(&c[0]), "10");
	assert_null(c[1].res);
	assert_int_equal(c[1].err.status, 500);
	assert_string_equal(kg_db_sqlstate(), "22012");
	assert_string_equal(val(&c[2]), "30");
	assert_string_equal(val(&c[3]), "42");
	assert_int_equal(c[0].err.status, 0);
	clear(c, 4);
	res = KG_DB_QUERY(&err, "SELECT string_agg(n::text, ',' ORDER BY n) "
			  "FROM pipe_t");
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), "1,3");
	PQclear(res);
	/* the connection is usable outside the pipeline afterwards */
	res = KG_DB_QUERY(&err, "SELECT $1::text", "after");
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), "after");
	PQclear(res);
}

/* A serialization failure is retried alone, once; the rest answered. */
static void
test_pipe_retries_serialization_failure(void **state)
{
	struct kg_db_piped c[3] = {
		{"SELECT $1::text", 1, P("a")},
		{"SELECT pg_temp.pipe_flaky()", 0, NULL},
		{"SELECT $1::text", 1, P("c")},
	};

	(void)state;
	assert_int_equal(kg_db_pipe(c, 3), 0);
	assert_string_equal(val(&c[0]), "a");
	assert_string_equal(val(&c[1]), "2");	/* the second run */
	assert_string_equal(val(&c[2]), "c");
	clear(c, 3);
	/* none, one: no pipeline needed, same answers */
	assert_int_equal(kg_db_pipe(c, 0), 0);
	assert_int_equal(kg_db_pipe(c, 1), 0);
	assert_string_equal(val(&c[0]), "a");
	clear(c, 1);
}

/* What kg_db_pipe_each told, in order, and what was known then. */
struct told {
	struct kg_db_piped *c;
	int order[4], n;
	int later_answered;	/* when the first was told */
	int db_refused;		/* kg_db inside the callback */
};

static void
tell(void *arg, int i)
{
	struct told *t = arg;
	struct kg_err err = {0};

	t->order[t->n++] = i;
	if (i != 0)
		return;
	t->later_answered = t->c[2].res != NULL || t->c[3].res != NULL;
	t->db_refused = KG_DB_QUERY(&err, "SELECT 1") == NULL &&
			err.status == 500;
}

/* Each call is told as soon as its own answer is read - the first
 * before the ones after it are read - once, in order, failed ones too;
 * kg_db is refused inside the callback and works again after. */
static void
test_pipe_each_tells_each_answer_first(void **state)
{
	struct kg_db_piped c[4] = {
		{"SELECT $1::text", 1, P("a")},
		{"SELECT 1 / $1::int", 1, P("0")},
		{"SELECT $1::text FROM pg_sleep(0.05)", 1, P("c")},
		{"SELECT $1::text", 1, P("d")},
	};
	struct told t = {.c = c};
	struct kg_err err = {0};
	PGresult *res;

	(void)state;
	assert_int_equal(kg_db_pipe_each(c, 4, tell, &t), 1);
	assert_int_equal(t.n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(t.order[i], i);
	assert_false(t.later_answered);
	assert_true(t.db_refused);
	assert_string_equal(val(&c[0]), "a");
	assert_null(c[1].res);
	assert_string_equal(val(&c[2]), "c");
	assert_string_equal(val(&c[3]), "d");
	clear(c, 4);
	res = KG_DB_QUERY(&err, "SELECT $1::text", "after");
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), "after");
	PQclear(res);
	/* one call (no pipeline) is told too, kg_db refused the same */
	t = (struct told){.c = c};
	c[2].res = c[3].res = NULL;
	assert_int_equal(kg_db_pipe_each(c, 1, tell, &t), 0);
	assert_int_equal(t.n, 1);
	assert_true(t.db_refused);
	clear(c, 1);
}

/* Terminates backend `pid` once it sleeps in pg_sleep (a child). */
static void
kill_when_sleeping(const char *pid)
{
	PGconn *conn =
		PQconnectdb(kg_config_str("database", "conninfo"));
	time_t until = time(NULL) + 20;

	while (PQstatus(conn) == CONNECTION_OK && time(NULL) < until) {
		PGresult *res = PQexecParams(conn,
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
			"WHERE pid = $1::int AND wait_event = 'PgSleep'",
			1, NULL, P(pid), NULL, NULL, 0);
		int done = PQntuples(res) == 1;

		PQclear(res);
		if (done)
			break;
		usleep(20000);
	}
	PQfinish(conn);
}

/* The connection breaks in the second call: the first keeps the answer
 * it got on the old connection, the second and those after it (never
 * run) run alone on a new one. */
static void
test_pipe_connection_lost(void **state)
{
	/* sleeps on the old connection only, so its run alone is quick */
	static const char sleepy[] =
		"SELECT pg_sleep(CASE WHEN pg_backend_pid() = $1::int "
		"THEN 30 ELSE 0 END)::text || 'slept'";
	struct kg_err err = {0};
	char pid[16];
	PGresult *res;
	pid_t child;
	int status;

	(void)state;
	res = KG_DB_QUERY(&err, "SELECT pg_backend_pid()");
	assert_non_null(res);
	snprintf(pid, sizeof(pid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	{
		struct kg_db_piped c[4] = {
			{"SELECT pg_backend_pid()::text", 0, NULL},
			{sleepy, 1, P(pid)},
			{"SELECT pg_backend_pid()::text", 0, NULL},
			{"SELECT $1::int * 2", 1, P("21")},
		};

		child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			kill_when_sleeping(pid);
			_exit(0);
		}
		assert_int_equal(kg_db_pipe(c, 4), 0);
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_string_equal(val(&c[0]), pid);
		assert_string_equal(val(&c[1]), "slept");
		assert_string_not_equal(val(&c[2]), pid);
		assert_string_equal(val(&c[3]), "42");
		clear(c, 4);
	}
}

static void
count(void *arg, int i)
{
	(void)i;
	(*(int *)arg)++;
}

/* No database: every call has the 503, none a result, each is told. */
static void
test_pipe_database_down(void **state)
{
	struct kg_db_piped c[3] = {
		{"SELECT 1", 0, NULL},
		{"SELECT $1::int", 1, P("2")},
		{"SELECT 3", 0, NULL},
	};
	int told = 0;

	(void)state;
	assert_int_equal(kg_db_pipe_each(c, 3, count, &told), 3);
	assert_int_equal(told, 3);
	for (int i = 0; i < 3; i++) {
		assert_null(c[i].res);
		assert_int_equal(c[i].err.status, 503);
	}
}

int
main(void)
{
	const struct CMUnitTest stack[] = {
		cmocka_unit_test(test_pipe_failure_in_the_middle),
		cmocka_unit_test(test_pipe_retries_serialization_failure),
		cmocka_unit_test(test_pipe_connection_lost),
		cmocka_unit_test(test_pipe_each_tells_each_answer_first),
	};
	const struct CMUnitTest down[] = {
		cmocka_unit_test(test_pipe_database_down),
	};

	if (!getenv("KARTOGRAF_CONFIG"))
		return cmocka_run_group_tests(down, setup_down, teardown);
	return cmocka_run_group_tests(stack, setup, teardown);
}
