/*
 * kg_db - PostgreSQL access for every program: one connection per
 * process, kept between requests, re-established after the server
 * restarts.
 *
 * Queries are parameterised only: there is no function here that takes
 * SQL with values pasted in.  Failures fill a kg_err:
 *   503 unavailable  connection lost and not re-established, timeout
 *   409 conflict     unique violation (SQLSTATE 23505)
 *   500 db_error     anything else (details go to the log, not the client)
 * kg_db_sqlstate() tells the caller exactly what happened.
 *
 * Every statement is prepared on its connection the first time the
 * process runs its SQL text, then executed by name (parse and analysis
 * once per connection, not per call); after a reconnect it is prepared
 * again.  The session runs with DateStyle ISO, so timestamps come as
 * "2026-03-01 10:15:30.5+00" whatever the server's default (kg_jsonw
 * writes them as JSON's to_json() does).
 */
#ifndef KG_DB_H
#define KG_DB_H

#include <libpq-fe.h>

#include "kg_buf.h"
#include "kg_err.h"

/* Number of elements of a compound literal of strings. */
#define KG_NPARAMS(...) \
	((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)))

/* kg_db_query with its parameters listed inline:
 *   res = KG_DB_QUERY(err, "SELECT ... WHERE id = $1", id); */
#define KG_DB_QUERY(err, sql, ...)                                  \
	kg_db_query((err), (sql), KG_NPARAMS(__VA_ARGS__),          \
		    (const char *const[]){__VA_ARGS__})

/* Live connection, connecting first if needed; NULL + 503 if not. */
PGconn *kg_db_conn(struct kg_err *err);

/*
 * Run one statement.  Returns a result the caller PQclear()s, whose
 * status is PGRES_TUPLES_OK or PGRES_COMMAND_OK; NULL on failure.
 * Outside a transaction a statement that fails because the connection
 * went away is retried once on a fresh connection (it cannot have run:
 * the server that would have run it is gone).
 */
PGresult *kg_db_query(struct kg_err *err, const char *sql, int nparams,
		      const char *const *params);

/*
 * For a statement that looks for one row (SELECT 1 ... WHERE key = $1):
 * 1 if res has exactly one row, 0 if not, -1 if res is NULL (the query
 * failed, err already set).  Clears res.
 *
 *   int found = kg_db_found(KG_DB_QUERY(err, sql, id));
 *   if (found <= 0)
 *           return found ? -1 : kg_err_set(err, 404, ...);
 */
int kg_db_found(PGresult *res);

/* Like kg_db_query for statements whose result is not needed. */
int kg_db_exec(struct kg_err *err, const char *sql, int nparams,
	       const char *const *params);

/*
 * Run fn inside BEGIN ... COMMIT.  fn returns 0 to commit, -1 (with err
 * set) to roll back.  After a serialization failure (SQLSTATE 40001)
 * or a deadlock (40P01) fn runs again, up to three attempts in all, so
 * fn must only touch the database; a transaction that gets through in
 * the end returns 0 with err clear, one that does not -1 with a 503
 * "database busy, try again".  Each attempt begins with a plain
 * BEGIN: the server's default isolation (READ COMMITTED, where only
 * deadlocks happen) unless fn sets another first.
 */
int kg_db_tx(struct kg_err *err, int (*fn)(void *arg, struct kg_err *err),
	     void *arg);

/*
 * One statement as a transaction of its own (a function doing a whole
 * step: one round trip), retried like kg_db_tx on a serialization
 * failure or a deadlock.  Outside kg_db_tx only.
 */
PGresult *kg_db_call(struct kg_err *err, const char *sql, int nparams,
		     const char *const *params);

#define KG_DB_CALL(err, sql, ...)                                   \
	kg_db_call((err), (sql), KG_NPARAMS(__VA_ARGS__),           \
		   (const char *const[]){__VA_ARGS__})

/*
 * Several kg_db_call()s in one round trip: libpq's pipeline mode, one
 * Sync per call, so each call is still a transaction of its own (one
 * that fails does not touch the others) - for a loop that has many
 * steps of different jobs to write at once.
 *
 *   struct kg_db_piped c[2] = {{sql_a, 2, params_a}, {sql_b, 1, p_b}};
 *   kg_db_pipe(c, 2);  ... c[i].res (PQclear it) or c[i].err ...
 *
 * A call that failed on a serialization failure or a deadlock, or got
 * no answer because the connection went away (those after it were not
 * run), is run once more on its own with kg_db_call (which reconnects
 * and retries as it does); the answered ones keep their results.
 * Returns how many calls have no result.  Outside kg_db_tx only.
 */
struct kg_db_piped {
	const char *sql;
	int nparams;
	const char *const *params;
	PGresult *res;			/* out: the result, or NULL (err) */
	struct kg_err err;
};

int kg_db_pipe(struct kg_db_piped *calls, int n);

/*
 * The same, telling fn(arg, i) of each call as soon as its answer is in
 * (c[i].res or c[i].err final): PostgreSQL runs the calls one after the
 * other, so the first one's caller can go on while the server still runs
 * the rest.  Each call is told once; the pipeline may still be open, so
 * fn must not use kg_db (a kg_db call there fails, and is logged).
 */
typedef void (*kg_db_piped_fn)(void *arg, int i);

int kg_db_pipe_each(struct kg_db_piped *calls, int n, kg_db_piped_fn fn,
		    void *arg);

/*
 * Run a multi-statement SQL script (simple query protocol, no
 * parameters).  Only for trusted files shipped with the software, such
 * as migrations; never for anything that contains input.
 */
int kg_db_exec_script(struct kg_err *err, const char *sql);

/*
 * COPY ... FROM STDIN with `data` (COPY's text format, rows already
 * escaped: kg_db_copy_field) as its input.  `sql` is a constant COPY
 * statement; the values travel as data, never as SQL.  0 or -1 (err
 * set as for kg_db_query).  Many rows at once: for 1,000 projects ~2.3x
 * faster than INSERT ... SELECT FROM jsonb_array_elements (README
 * "Speed of the read path").
 */
int kg_db_copy(struct kg_err *err, const char *sql, const char *data,
	       size_t len);

/*
 * The same COPY fed piece by piece (an upload's rows as they are
 * validated, inside kg_db_tx): begin, send any number of times (libpq
 * buffers and sends as it fills), end.  end with an abort_reason
 * makes the server fail the statement (the caller then rolls back;
 * err is only set when the connection failed); with NULL it finishes
 * the COPY and reports the server's verdict (a row the server refuses
 * fails it).  Each returns 0 or -1 with err as for kg_db_query; after
 * a successful begin, end must be called whatever happens.
 */
int kg_db_copy_begin(struct kg_err *err, const char *sql);
int kg_db_copy_send(struct kg_err *err, const char *data, size_t len);
int kg_db_copy_end(struct kg_err *err, const char *abort_reason);

/* Append one field in COPY's text format (backslash, tab, newline and
 * carriage return escaped), without the separator. */
int kg_db_copy_field(struct kg_buf *b, const char *s, size_t len);

/* SQLSTATE of the last failed statement ("" if none / no server). */
const char *kg_db_sqlstate(void);

/* Close the connection (program exit, tests). */
void kg_db_close(void);

#endif
