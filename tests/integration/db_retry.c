/*
 * db_retry - drives kg_db_tx and kg_db_call into real serialization
 * failures and deadlocks on the test stack's PostgreSQL, for
 * tests/integration/test_db_retry.py (which makes the scratch schema,
 * reads the data afterwards and holds the assertions).
 *
 *   db_retry CASE SCHEMA OTHER
 *
 * kg_db connects as the stack's configuration says (KARTOGRAF_CONFIG);
 * OTHER is a libpq connection string for a second session, the one
 * that conflicts with it.  Both work in SCHEMA (search_path).  Prints
 * one line of facts: calls (times kg_db_tx ran the callback), rc,
 * status, code and sqlstate of the kg_err / kg_db_sqlstate(), result
 * (kg_db_call's value).  Exit status 0 when the case ran, whatever
 * kg_db answered; 1 when the scene could not be set.  The other
 * session's part runs in the server (wait_blocked, spoil: plpgsql the
 * test's schema holds) while kg_db waits, so one thread drives both.
 *
 * No sleeps: the two sessions are ordered by locks.  The other session
 * acts only once it sees kg_db's session wait for a lock it holds
 * (wait_blocked(), which polls pg_blocking_pids), and kg_db_call's
 * statement waits, on each attempt, for an advisory lock the other
 * session releases once it has committed its conflicting update.  A
 * deadlock is detected by whichever session's deadlock_timeout runs out
 * first, and that session is the one that fails; the other session
 * sets its own to an hour (it is a superuser's), so the victim is
 * always kg_db's.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kg_config.h"
#include "kg_db.h"
#include "kg_log.h"

/* run_case's answer when the scene could not be set (kg_db answers 0
 * or -1). */
#define NO_SCENE 2

struct run {
	PGconn *other;
	int kg_pid;
	int calls;     /* times kg_db_tx ran the callback */
	int conflicts; /* attempts the other session spoils */
	char result[32];
};

/* One statement on the other session, which must succeed. */
static int
other_exec(PGconn *o, const char *sql, int nparams, const char *const *params)
{
	PGresult *res =
		PQexecParams(o, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "db_retry: other session: %s: %s", sql,
			PQerrorMessage(o));
	PQclear(res);
	return ok ? 0 : -1;
}

/* Whether the other session's work ended within `seconds`. */
static int
other_done_within(PGconn *o, int seconds)
{
	struct pollfd p = { .fd = PQsocket(o), .events = POLLIN };
	struct timespec now, end;
	int ms;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	while (PQconsumeInput(o) && PQisBusy(o)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (int)((end.tv_sec - now.tv_sec) * 1000 +
			   (end.tv_nsec - now.tv_nsec) / 1000000);
		if (ms <= 0)
			return 0;
		poll(&p, 1, ms);
	}
	return 1;
}

/*
 * Collect what the other session's work answered.  It ends by itself
 * around the time kg_db answers, unless kg_db gave up earlier than the
 * test expects: then it waits for a kg_db attempt that will never come
 * and is cancelled after a while (wait_blocked() would give up after
 * 10 s).
 */
static int
other_finish(PGconn *o)
{
	PGresult *res;
	char why[256];
	int rc = 0;

	if (!other_done_within(o, 3)) {
		PGcancel *c = PQgetCancel(o);

		fprintf(stderr, "db_retry: other session still waiting, "
				"cancelled\n");
		if (c)
			PQcancel(c, why, sizeof(why));
		PQfreeCancel(c);
		rc = -1;
	}
	while ((res = PQgetResult(o))) {
		ExecStatusType st = PQresultStatus(res);

		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			fprintf(stderr, "db_retry: other session: %s",
				PQresultErrorMessage(res));
			rc = -1;
		}
		PQclear(res);
	}
	return rc;
}

/* Start `sql` (one or more statements) on the other session without
 * waiting for it. */
static int
other_send(PGconn *o, const char *sql)
{
	if (PQsendQuery(o, sql))
		return 0;
	fprintf(stderr, "db_retry: other session: %s", PQerrorMessage(o));
	return -1;
}

/*
 * The other session holds row 2 and, once kg_db's session waits for
 * it, asks for row 1 - which kg_db's session holds by then: a deadlock.
 * When kg_db's statement has failed and let go of row 1, it takes row 1
 * and commits.  It holds the advisory lock (kg_db's pid, 0) until then,
 * which kg_db's attempts after the first take before any row: without
 * it the second attempt could take row 1 back before the other session
 * woke up, and deadlock again.
 */
static int
other_deadlock(struct run *r)
{
	char sql[128];

	snprintf(sql, sizeof(sql),
		 "SELECT wait_blocked(%d);"
		 " UPDATE t SET n = n + 10 WHERE id = 1; COMMIT",
		 r->kg_pid);
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", r->kg_pid);
	if (other_exec(r->other, "BEGIN", 0, NULL) < 0 ||
	    other_exec(r->other, "SELECT pg_advisory_xact_lock($1::int, 0)", 1,
		       (const char *const[]){ pid }) < 0 ||
	    other_exec(r->other, "UPDATE t SET n = n + 10 WHERE id = 2", 0,
		       NULL) < 0)
		return -1;
	return other_send(r->other, sql);
}

/*
 * kg_db_call's statement (bump()) waits on the advisory lock (its
 * backend pid, its attempt number) after taking its snapshot; the
 * other session holds the locks of the attempts it spoils and, for
 * each, commits an update of row 1 before it lets the attempt go on to
 * update row 1 itself (spoil()).
 */
static int
other_serialization(struct run *r)
{
	char pid[16], times[16], sql[64];

	snprintf(pid, sizeof(pid), "%d", r->kg_pid);
	snprintf(times, sizeof(times), "%d", r->conflicts);
	snprintf(sql, sizeof(sql), "CALL spoil(%d, %d)", r->kg_pid,
		 r->conflicts);
	if (other_exec(r->other,
		       "SELECT pg_advisory_lock($1::int, i)"
		       " FROM generate_series(1, $2::int) i",
		       2, (const char *const[]){ pid, times }) < 0)
		return -1;
	return other_send(r->other, sql);
}

/* kg_db_tx callbacks.  A repeatable read transaction reads row 1 (its
 * snapshot), the other session updates row 1 and commits, then this
 * transaction updates row 1: SQLSTATE 40001. */
static int
tx_after_other(void *arg, struct kg_err *err)
{
	struct run *r = arg;

	r->calls++;
	if (kg_db_exec(err, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		       0, NULL) < 0 ||
	    kg_db_exec(err, "SELECT n FROM t WHERE id = 1", 0, NULL) < 0)
		return -1;
	if (r->calls <= r->conflicts &&
	    other_exec(r->other, "UPDATE t SET n = n + 100 WHERE id = 1", 0,
		       NULL) < 0)
		return kg_err_set(err, 500, "test", "other session failed");
	return kg_db_exec(err, "UPDATE t SET n = n + 1 WHERE id = 1", 0, NULL);
}

/* Row 1, then row 2 (which the other session holds: a deadlock on the
 * first attempt; a later one waits for the other session's COMMIT). */
static int
tx_both_rows(void *arg, struct kg_err *err)
{
	struct run *r = arg;

	if (++r->calls > 1 &&
	    kg_db_exec(err, "SELECT pg_advisory_xact_lock(pg_backend_pid(), 0)",
		       0, NULL) < 0)
		return -1;
	if (kg_db_exec(err, "UPDATE t SET n = n + 1 WHERE id = 1", 0, NULL) < 0)
		return -1;
	return kg_db_exec(err, "UPDATE t SET n = n + 1 WHERE id = 2", 0, NULL);
}

/* Errors that another attempt would only repeat: after row 1 is
 * updated, a duplicate key, a check violation, the callback's own no. */
static int
tx_refused(void *arg, struct kg_err *err, const char *sql)
{
	struct run *r = arg;

	r->calls++;
	if (kg_db_exec(err, "UPDATE t SET n = n + 1 WHERE id = 1", 0, NULL) < 0)
		return -1;
	if (!sql)
		return kg_err_set(err, 422, "refused", "the callback said no");
	return kg_db_exec(err, sql, 0, NULL);
}

static int
tx_unique(void *arg, struct kg_err *err)
{
	return tx_refused(arg, err, "INSERT INTO t VALUES (2, 0)");
}

static int
tx_check(void *arg, struct kg_err *err)
{
	return tx_refused(arg, err, "UPDATE t SET n = -1 WHERE id = 2");
}

static int
tx_own_error(void *arg, struct kg_err *err)
{
	return tx_refused(arg, err, NULL);
}

/* kg_db_call's statement: its value is the attempt number. */
static int
call(struct run *r, const char *sql, struct kg_err *err)
{
	PGresult *res = kg_db_call(err, sql, 0, NULL);

	if (!res)
		return -1;
	snprintf(r->result, sizeof(r->result), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int
run_case(struct run *r, const char *name, struct kg_err *err)
{
	if (!strcmp(name, "tx-serialization") || !strcmp(name, "tx-limit")) {
		r->conflicts = !strcmp(name, "tx-limit") ? 3 : 1;
		return kg_db_tx(err, tx_after_other, r);
	}
	if (!strcmp(name, "tx-deadlock"))
		return other_deadlock(r) < 0 ? NO_SCENE
					     : kg_db_tx(err, tx_both_rows, r);
	if (!strcmp(name, "tx-unique"))
		return kg_db_tx(err, tx_unique, r);
	if (!strcmp(name, "tx-check"))
		return kg_db_tx(err, tx_check, r);
	if (!strcmp(name, "tx-refused"))
		return kg_db_tx(err, tx_own_error, r);
	if (!strcmp(name, "call-serialization") ||
	    !strcmp(name, "call-limit")) {
		r->conflicts = !strcmp(name, "call-limit") ? 3 : 1;
		if (kg_db_exec(err,
			       "SELECT set_config('default_transaction_"
			       "isolation', 'repeatable read', false)",
			       0, NULL) < 0 ||
		    other_serialization(r) < 0)
			return NO_SCENE;
		return call(r, "SELECT bump()", err);
	}
	if (!strcmp(name, "call-deadlock"))
		return other_deadlock(r) < 0
			       ? NO_SCENE
			       : call(r, "SELECT both_rows()", err);
	if (!strcmp(name, "call-unique"))
		return call(r,
			    "INSERT INTO t SELECT 1, nextval('attempts')"
			    " RETURNING n",
			    err);
	fprintf(stderr, "db_retry: no case %s\n", name);
	return NO_SCENE;
}

/* Both sessions in the scratch schema; the other one never the victim
 * of a deadlock, and never waiting longer than a test may take. */
static int
setup(struct run *r, const char *schema, const char *conninfo,
      struct kg_err *err)
{
	PGconn *kg = kg_db_conn(err);

	if (!kg ||
	    kg_db_exec(err, "SELECT set_config('search_path', $1, false)", 1,
		       (const char *const[]){ schema }) < 0)
		return -1;
	r->kg_pid = PQbackendPID(kg);
	r->other = PQconnectdb(conninfo);
	if (PQstatus(r->other) != CONNECTION_OK) {
		fprintf(stderr, "db_retry: other session: %s",
			PQerrorMessage(r->other));
		return -1;
	}
	return other_exec(r->other,
			  "SELECT set_config('search_path', $1, false),"
			  " set_config('deadlock_timeout', '1h', false),"
			  " set_config('statement_timeout', '20s', false)",
			  1, (const char *const[]){ schema });
}

int
main(int argc, char **argv)
{
	struct kg_err err = { 0 };
	struct run r = { 0 };
	int rc, other, status = 1;

	kg_log_init("db_retry");
	if (argc != 4) {
		fprintf(stderr, "usage: db_retry CASE SCHEMA OTHER_CONNINFO\n");
		return 2;
	}
	if (kg_config_load(NULL, &err) < 0 ||
	    setup(&r, argv[2], argv[3], &err) < 0) {
		fprintf(stderr, "db_retry: setup: %s\n", err.message);
		goto out;
	}
	rc = run_case(&r, argv[1], &err);
	if (rc == NO_SCENE)
		goto out;
	other = other_finish(r.other);
	printf("calls=%d rc=%d status=%d code=%s sqlstate=%s result=%s"
	       " other=%s\n",
	       r.calls, rc, err.status, err.code[0] ? err.code : "-",
	       kg_db_sqlstate()[0] ? kg_db_sqlstate() : "-",
	       r.result[0] ? r.result : "-", other < 0 ? "failed" : "ok");
	status = 0;
out:
	PQfinish(r.other);
	kg_db_close();
	kg_config_free();
	return status;
}
