#include "kg_db.h"
#include "kg_config.h"
#include "kg_log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PGconn *db_conn;
static int db_in_tx;
static int db_piping;		/* in a kg_db_pipe_each callback */
static char db_sqlstate[6];

/*
 * Prepared statements, per connection: a statement is prepared the
 * first time this process runs its SQL text (named kg_<slot>) and
 * executed by name afterwards, so PostgreSQL parses and analyses it
 * once per connection instead of on every call.  db_gen counts
 * connections: a slot prepared under an older one (the server was
 * restarted, the session is new) is prepared again on its next use.
 * SQL beyond DB_STMTS distinct texts runs unnamed, as before.
 */
#define DB_STMTS 256

struct db_stmt {
	char *sql;
	size_t len;
	unsigned long hash;
	const char *from;	/* the address it was last passed from */
	unsigned gen;		/* db_gen it was prepared under, 0 = not */
};

static struct db_stmt db_stmts[DB_STMTS];
static int db_nstmts;
static unsigned db_gen = 1;

static void
notice_to_log(void *arg, const char *message)
{
	(void)arg;
	KG_DEBUG("postgres: %s", message);
}

static int
db_connect(struct kg_err *err)
{
	char conninfo[4608];

	if (db_conn && PQstatus(db_conn) == CONNECTION_OK)
		return 0;
	db_gen++;	/* a new session has no prepared statements */
	if (db_conn) {
		PQreset(db_conn);
	} else {
		/* Later keywords win in a conninfo string, so the
		 * configured string can still override these. */
		snprintf(conninfo, sizeof(conninfo),
			 "connect_timeout=%lld application_name=kartograf "
			 "%s",
			 kg_config_int("database", "connect_timeout"),
			 kg_config_str("database", "conninfo"));
		db_conn = PQconnectdb(conninfo);
		if (db_conn)
			PQsetNoticeProcessor(db_conn, notice_to_log, NULL);
	}
	if (!db_conn || PQstatus(db_conn) != CONNECTION_OK) {
		KG_WARN("database connection failed: %s",
			db_conn ? PQerrorMessage(db_conn) : "out of memory");
		return kg_err_set(err, 503, "unavailable",
				  "database unavailable");
	}
	return 0;
}

/*
 * A fresh session gets the statement timeout from config, so a stuck
 * query ends as an error instead of holding a FastCGI process forever.
 */
static int
db_session_setup(struct kg_err *err)
{
	char ms[32];
	PGresult *res;
	int ok;

	snprintf(ms, sizeof(ms), "%lld",
		 kg_config_int("database", "statement_timeout_ms"));
	res = PQexecParams(db_conn,
			   "SELECT set_config('statement_timeout', $1, false),"
			   " set_config('DateStyle', 'ISO', false)",
			   1, NULL, (const char *const[]){ms}, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	return ok ? 0 : kg_err_set(err, 503, "unavailable",
				   "database unavailable");
}

PGconn *
kg_db_conn(struct kg_err *err)
{
	int fresh = !db_conn || PQstatus(db_conn) != CONNECTION_OK;

	if (db_piping) {	/* a kg_db_pipe_each callback: a bug */
		KG_ERROR("kg_db used while a pipeline is being read");
		kg_err_set(err, 500, "internal", "database call in a pipeline");
		return NULL;
	}
	if (db_connect(err) < 0)
		return NULL;
	if (fresh && db_session_setup(err) < 0)
		return NULL;
	return db_conn;
}

static int
result_ok(PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* The connection is gone or going (class 08, admin shutdown). */
static int
state_unavailable(const char *state)
{
	return !strncmp(state, "08", 2) || !strcmp(state, "57P01");
}

/* Another attempt may get through: serialization failure, deadlock. */
static int
state_retryable(const char *state)
{
	return !strcmp(state, "40001") || !strcmp(state, "40P01");
}

static void
fail_from_result(PGresult *res, struct kg_err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
				: NULL;

	snprintf(db_sqlstate, sizeof(db_sqlstate), "%s", state ? state : "");
	if (!state || state_unavailable(state) ||
	    PQstatus(db_conn) != CONNECTION_OK) {
		KG_WARN("database unavailable: %s", PQerrorMessage(db_conn));
		kg_err_set(err, 503, "unavailable", "database unavailable");
	} else if (!strcmp(state, "57014")) {
		KG_WARN("statement timed out");
		kg_err_set(err, 503, "unavailable", "database timeout");
	} else if (state_retryable(state)) {
		/* retried by kg_db_tx/kg_db_call; what is left is load */
		kg_err_set(err, 503, "unavailable", "database busy, try again");
	} else if (!strcmp(state, "23505")) {
		kg_err_set(err, 409, "conflict", "already exists");
	} else {
		KG_ERROR("database error %s: %s", state,
			 PQresultErrorMessage(res));
		kg_err_set(err, 500, "db_error", "database error");
	}
}

/* The slot of `sql`, added if new; NULL when the table is full. */
static struct db_stmt *
stmt_slot(const char *sql)
{
	unsigned long h = 5381;
	size_t len = 0;
	struct db_stmt *st;

	/* Callers pass string literals: the same address is almost always
	 * the same statement, found without hashing its text (the card's
	 * is 1.2 KB); the text is still compared, for a reused buffer. */
	for (int i = 0; i < db_nstmts; i++) {
		st = &db_stmts[i];
		if (st->from == sql && !strcmp(st->sql, sql))
			return st;
	}
	for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
		h = h * 33 + *p, len++;
	for (int i = 0; i < db_nstmts; i++) {
		st = &db_stmts[i];
		if (st->hash == h && st->len == len &&
		    !memcmp(st->sql, sql, len)) {
			st->from = sql;
			return st;
		}
	}
	if (db_nstmts == DB_STMTS)
		return NULL;
	st = &db_stmts[db_nstmts];
	st->sql = strdup(sql);
	if (!st->sql)
		return NULL;
	st->len = len;
	st->hash = h;
	st->from = sql;
	st->gen = 0;
	db_nstmts++;
	return st;
}

static int
has_state(PGresult *res, const char *state)
{
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return s && !strcmp(s, state);
}

/*
 * One execution: by name (preparing it first on this connection if
 * needed), or unnamed when the statement has no slot.  A prepared
 * statement the session lost (26000: DISCARD ALL, a pooler in between)
 * is prepared again, and the call repeated outside a transaction.
 */
static void
stmt_name(const struct db_stmt *st, char name[16])
{
	snprintf(name, 16, "kg_%d", (int)(st - db_stmts));
}

/* st prepared on this connection (now, if it was not): NULL, else the
 * failed result. */
static PGresult *
stmt_prepare(struct db_stmt *st, int nparams)
{
	char name[16];
	PGresult *res;

	if (st->gen == db_gen)
		return NULL;
	stmt_name(st, name);
	res = PQprepare(db_conn, name, st->sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    !has_state(res, "42P05"))	/* already there */
		return res;
	PQclear(res);
	st->gen = db_gen;
	return NULL;
}

static PGresult *
exec_stmt(const char *sql, int nparams, const char *const *params,
	  int again)
{
	struct db_stmt *st = stmt_slot(sql);
	char name[16];
	PGresult *res;

	if (!st)
		return PQexecParams(db_conn, sql, nparams, NULL, params, NULL,
				    NULL, 0);
	stmt_name(st, name);
	if ((res = stmt_prepare(st, nparams)))
		return res;
	res = PQexecPrepared(db_conn, name, nparams, params, NULL, NULL, 0);
	if (!result_ok(res) && has_state(res, "26000")) {
		st->gen = 0;
		if (again && !db_in_tx) {
			PQclear(res);
			return exec_stmt(sql, nparams, params, 0);
		}
	}
	return res;
}

PGresult *
kg_db_query(struct kg_err *err, const char *sql, int nparams,
	    const char *const *params)
{
	PGresult *res;

	db_sqlstate[0] = '\0';
	if (!kg_db_conn(err))
		return NULL;
	res = exec_stmt(sql, nparams, params, 1);
	if (!result_ok(res) && PQstatus(db_conn) != CONNECTION_OK &&
	    !db_in_tx) {
		PQclear(res);
		KG_INFO("database connection lost, reconnecting");
		if (!kg_db_conn(err))
			return NULL;
		res = exec_stmt(sql, nparams, params, 1);
	}
	if (result_ok(res))
		return res;
	fail_from_result(res, err);
	PQclear(res);
	return NULL;
}

int
kg_db_found(PGresult *res)
{
	int found;

	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	PQclear(res);
	return found;
}

int
kg_db_exec(struct kg_err *err, const char *sql, int nparams,
	   const char *const *params)
{
	PGresult *res = kg_db_query(err, sql, nparams, params);

	PQclear(res);
	return res ? 0 : -1;
}

int
kg_db_copy_begin(struct kg_err *err, const char *sql)
{
	PGresult *res;

	db_sqlstate[0] = '\0';
	if (!kg_db_conn(err))
		return -1;
	res = PQexec(db_conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		fail_from_result(res, err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
kg_db_copy_send(struct kg_err *err, const char *data, size_t len)
{
	while (len > 0) {
		int chunk = len > 1 << 20 ? 1 << 20 : (int)len;

		if (PQputCopyData(db_conn, data, chunk) != 1) {
			fail_from_result(NULL, err);
			return -1;
		}
		data += chunk;
		len -= (size_t)chunk;
	}
	return 0;
}

int
kg_db_copy_end(struct kg_err *err, const char *abort_reason)
{
	PGresult *res;
	int ok = PQputCopyEnd(db_conn, abort_reason) == 1;

	/* the statement's result (an error when the copy was refused or
	 * aborted), then NULL; a lost connection gives NULL at once */
	res = PQgetResult(db_conn);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (!abort_reason || !res ||
		    PQstatus(db_conn) != CONNECTION_OK)
			fail_from_result(res, err);
		ok = 0;
	}
	PQclear(res);
	while ((res = PQgetResult(db_conn)))
		PQclear(res);
	return ok ? 0 : -1;
}

int
kg_db_copy(struct kg_err *err, const char *sql, const char *data, size_t len)
{
	if (kg_db_copy_begin(err, sql) < 0)
		return -1;
	if (kg_db_copy_send(err, data, len) < 0) {
		kg_db_copy_end(err, "client stopped");
		return -1;
	}
	return kg_db_copy_end(err, NULL);
}

/* Whether any byte of the 8 at p is one COPY escapes (\\ \t \n \r): the
 * classic "has a zero byte" test on p XOR each of them.  Most of an
 * upload's text has none (JSON already escapes tabs and newlines), so
 * it is looked at a word at a time. */
#define ONES 0x0101010101010101ULL
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & 0x8080808080808080ULL)

static int
word_needs_escape(const char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return (HAS_ZERO(w ^ (ONES * '\\')) | HAS_ZERO(w ^ (ONES * '\t')) |
		HAS_ZERO(w ^ (ONES * '\n')) | HAS_ZERO(w ^ (ONES * '\r'))) != 0;
}

int
kg_db_copy_field(struct kg_buf *b, const char *s, size_t len)
{
	size_t run = 0, i = 0;
	int rc = 0;

	/* most fields have nothing to escape: four vectorised scans */
	if (!memchr(s, '\\', len) && !memchr(s, '\t', len) &&
	    !memchr(s, '\n', len) && !memchr(s, '\r', len))
		return kg_buf_append(b, s, len) ? -1 : 0;
	while (i < len && !rc) {
		char esc;

		if (i + 8 <= len && !word_needs_escape(s + i)) {
			i += 8;
			continue;
		}
		esc = s[i] == '\\' ? '\\' : s[i] == '\t' ? 't'
		    : s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 0;
		if (esc) {
			rc = kg_buf_append(b, s + run, i - run) ||
			     kg_buf_append(b, (char[]){'\\', esc}, 2);
			run = i + 1;
		}
		i++;
	}
	return rc || kg_buf_append(b, s + run, len - run) ? -1 : 0;
}

int
kg_db_exec_script(struct kg_err *err, const char *sql)
{
	PGresult *res;
	int ok;

	if (!kg_db_conn(err))
		return -1;
	res = PQexec(db_conn, sql);
	ok = result_ok(res);
	if (!ok) {
		KG_ERROR("script failed: %s", PQresultErrorMessage(res));
		fail_from_result(res, err);
	}
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * The one retry rule of kg_db_tx and kg_db_call, asked after a failed
 * attempt: another one after a serialization failure or a deadlock, up
 * to three attempts in all.  The failed attempt's error is cleared for
 * the next one, so that a call that gets through in the end does not
 * come back with it.
 */
static int
retry(int *attempts, const char *what, struct kg_err *err)
{
	if (!state_retryable(db_sqlstate))
		return 0;
	if (++*attempts >= 3) {
		KG_WARN("%s gave up after %d attempts (SQLSTATE %s)", what,
			*attempts, db_sqlstate);
		return 0;
	}
	KG_INFO("%s retry after SQLSTATE %s", what, db_sqlstate);
	kg_err_clear(err);
	return 1;
}

int
kg_db_tx(struct kg_err *err, int (*fn)(void *arg, struct kg_err *err),
	 void *arg)
{
	int rc, attempts = 0;

	do {
		if (kg_db_exec(err, "BEGIN", 0, NULL) < 0)
			return -1;
		db_in_tx = 1;
		rc = fn(arg, err);
		if (rc == 0)
			rc = kg_db_exec(err, "COMMIT", 0, NULL);
		else if (PQstatus(db_conn) == CONNECTION_OK)
			PQclear(PQexec(db_conn, "ROLLBACK"));
		db_in_tx = 0;
	} while (rc != 0 && retry(&attempts, "transaction", err));
	return rc;
}

/* Inside kg_db_tx a failed statement is the transaction's to retry. */
PGresult *
kg_db_call(struct kg_err *err, const char *sql, int nparams,
	   const char *const *params)
{
	PGresult *res;
	int attempts = 0;

	do
		res = kg_db_query(err, sql, nparams, params);
	while (!res && !db_in_tx && retry(&attempts, "statement", err));
	return res;
}

/* ------------------------------------------------------------------ */
/* kg_db_pipe: pipeline mode, one Sync per call. */

/* Send one call and its Sync (by name when its statement is ready). */
static int
pipe_send(const struct kg_db_piped *c)
{
	struct db_stmt *st = stmt_slot(c->sql);
	char name[16];
	int ok;

	if (st && st->gen == db_gen) {
		stmt_name(st, name);
		ok = PQsendQueryPrepared(db_conn, name, c->nparams, c->params,
					 NULL, NULL, 0);
	} else {
		ok = PQsendQueryParams(db_conn, c->sql, c->nparams, NULL,
				       c->params, NULL, NULL, 0);
	}
	return ok && PQpipelineSync(db_conn) ? 0 : -1;
}

/* Whether a failed call is run once more alone: no answer (the
 * connection went), a retryable SQLSTATE, a lost prepared statement. */
static int
pipe_again(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return !s || PQstatus(db_conn) != CONNECTION_OK ||
	       state_unavailable(s) || state_retryable(s) ||
	       !strcmp(s, "26000");
}

/* Call i is answered for good: tell the caller (told[i]), with kg_db
 * refused meanwhile (the pipeline may be open). */
static void
pipe_tell(int i, char *told, kg_db_piped_fn fn, void *arg)
{
	if (told)
		told[i] = 1;
	if (!fn)
		return;
	db_piping = 1;
	fn(arg, i);
	db_piping = 0;
}

/*
 * Read the answers of calls [0, sent): each is its result, the end of
 * its query (NULL) and its Sync; each one final is told at once.  Sets
 * again[i] for what must run once more; returns how many calls were
 * read.
 */
static int
pipe_read(struct kg_db_piped *c, int sent, char *again, char *told,
	  kg_db_piped_fn fn, void *arg)
{
	int i;

	for (i = 0; i < sent; i++) {
		PGresult *res = PQgetResult(db_conn), *r;
		int synced = 0;

		if (!res)
			break;
		/* up to the Sync: the query's end (NULL), the Sync */
		for (int k = 0; k < 2 && !synced; k++) {
			r = PQgetResult(db_conn);
			if (!r && PQstatus(db_conn) != CONNECTION_OK)
				break;
			if (!r)
				continue;
			synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
			PQclear(r);
			if (!synced)	/* not what a live pipeline sends */
				break;
		}
		if (result_ok(res)) {
			c[i].res = res;
		} else {
			again[i] = pipe_again(res);
			if (!again[i])
				fail_from_result(res, &c[i].err);
			else if (res &&
				 PQresultErrorField(res, PG_DIAG_SQLSTATE))
				snprintf(db_sqlstate, sizeof(db_sqlstate), "%s",
					 PQresultErrorField(res,
							    PG_DIAG_SQLSTATE));
			if (has_state(res, "26000"))
				stmt_slot(c[i].sql)->gen = 0;
			PQclear(res);
		}
		if (!again[i])
			pipe_tell(i, told, fn, arg);
		if (!synced) {
			i++;
			break;
		}
	}
	return i;
}

/* Leave pipeline mode; a connection that cannot (it broke with answers
 * outstanding) is closed, the next call opens a new one. */
static void
pipe_leave(void)
{
	PGresult *r;

	if (PQstatus(db_conn) == CONNECTION_OK)
		while ((r = PQgetResult(db_conn)))
			PQclear(r);
	if (!PQexitPipelineMode(db_conn)) {
		KG_WARN("database connection lost in a pipeline: %s",
			PQerrorMessage(db_conn));
		PQfinish(db_conn);
		db_conn = NULL;
	}
}

int
kg_db_pipe(struct kg_db_piped *c, int n)
{
	return kg_db_pipe_each(c, n, NULL, NULL);
}

int
kg_db_pipe_each(struct kg_db_piped *c, int n, kg_db_piped_fn fn, void *arg)
{
	struct kg_err err = {0};
	char *again, *told;
	int sent = 0, read = 0, failed = 0;

	for (int i = 0; i < n; i++)
		c[i].res = NULL, c[i].err = (struct kg_err){0};
	if (n <= 0)
		return 0;
	db_sqlstate[0] = '\0';
	if (!kg_db_conn(&err)) {
		for (int i = 0; i < n; i++) {
			c[i].err = err;
			pipe_tell(i, NULL, fn, arg);
		}
		return n;
	}
	again = calloc((size_t)n * 2, 1);	/* again[n], told[n] */
	told = again ? again + n : NULL;
	if (!again || n == 1)
		goto alone;
	/* what is new to this connection is prepared first */
	for (int i = 0; i < n; i++) {
		struct db_stmt *st = stmt_slot(c[i].sql);

		if (st)
			PQclear(stmt_prepare(st, c[i].nparams));
	}
	if (!PQenterPipelineMode(db_conn))
		goto alone;
	while (sent < n && pipe_send(&c[sent]) == 0)
		sent++;
	KG_DEBUG("%d statements in one pipeline", sent);
	read = pipe_read(c, sent, again, told, fn, arg);
	pipe_leave();
alone:
	for (int i = 0; i < n; i++) {
		if (i >= read || !again || again[i]) {
			if (i < read && again)
				KG_INFO("pipelined statement run alone after "
					"SQLSTATE %s", db_sqlstate);
			c[i].err = (struct kg_err){0};
			c[i].res = kg_db_call(&c[i].err, c[i].sql, c[i].nparams,
					      c[i].params);
		}
		failed += !c[i].res;
		if (!told || !told[i])
			pipe_tell(i, told, fn, arg);
	}
	free(again);
	return failed;
}

const char *
kg_db_sqlstate(void)
{
	return db_sqlstate;
}

void
kg_db_close(void)
{
	PQfinish(db_conn);
	db_conn = NULL;
	db_in_tx = 0;
	for (int i = 0; i < db_nstmts; i++)
		free(db_stmts[i].sql);
	db_nstmts = 0;
}
