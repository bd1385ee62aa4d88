/*
 * kg_app - the small framework every endpoint program is built on.
 *
 * An endpoint program declares a route table and handlers (kg_route.h);
 * kg_app_main() owns everything else: configuration, logging, the
 * FastCGI accept loop (or one plain-CGI request), routing, body limits,
 * authentication, the declared body (kg_body.h) and version checks, the
 * JSON error shape, request ids and clean shutdown on SIGTERM.  One
 * process serves many requests and keeps its PostgreSQL and Redis
 * connections between them (kg_db, kg_redis).  A handler reads its
 * request with kg_req and answers with kg_resp.
 */
#ifndef KG_APP_H
#define KG_APP_H

#include <cjson/cJSON.h>

#include "kg_buf.h"
#include "kg_err.h"
#include "kg_route.h"

struct kg_app {
	const char *name;
	const struct kg_route *routes;	/* ends with a zeroed entry */
	int (*init)(struct kg_err *err);	/* optional, after config */
	void (*fini)(void);			/* optional, at exit */
	/*
	 * Optional: number of request threads, asked once after init.
	 * Absent (or <= 0): the classic loop, one request at a time.
	 * Otherwise that many threads each run their own FCGX_Accept_r
	 * loop (for long-lived responses such as event streams, where
	 * one process must hold many requests open).  The process still
	 * has ONE kg_db and ONE kg_redis connection: a threaded program
	 * holds kg_app_lock() around every kg_db / kg_redis call (the
	 * framework does so while authenticating).  fini runs after every
	 * request thread has ended.
	 */
	int (*threads)(void);
};

/*
 * Runs the program.  With the single argument --openapi it prints its
 * routes as OpenAPI 3.1 path items instead ({"program", "paths"}, see
 * kg_app_openapi) and exits, needing no configuration or services.
 */
int kg_app_main(const struct kg_app *app, int argc, char **argv);

/* {"program": name, "paths": {...}}: the routes as OpenAPI 3.1 path
 * items, error responses as $refs to #/components/responses/<status>;
 * caller deletes. */
cJSON *kg_app_openapi(const struct kg_app *app);

/*
 * The whole API document the build made (scripts/gen-openapi.py), read
 * from where it is installed beside the programs: <the directory of
 * this executable>/../openapi.json (build/openapi.json in a build tree,
 * $(PREFIX)/lib/kartograf/openapi.json installed), so a program never
 * serves a document of another build.  Appends to out; 0, or -1 with
 * 500 in err when it is missing.
 */
int kg_app_openapi_file(struct kg_buf *out, struct kg_err *err);

/* --openapi, a step of kg_app_main in kg_app_openapi.c (the exit
 * status). */
int kg_app_print_openapi(const struct kg_app *app);

/* The [http] settings that kg_config cannot check by type (every entry
 * of trusted_proxies is an address or CIDR); kg_app_main runs it. */
int kg_app_check_config(struct kg_err *err);

/* Nonzero once SIGTERM/SIGINT asked the program to stop.  In a
 * threaded program a request thread blocked in a system call (poll,
 * write) is interrupted by a signal (EINTR) when the stop comes, so
 * it can notice this promptly. */
int kg_app_stopping(void);

/* The lock over the process's shared kg_db and kg_redis connections,
 * for threaded programs (see struct kg_app); not recursive. */
void kg_app_lock(void);
void kg_app_unlock(void);

#endif
