/*
 * GET /api/health - is this host able to serve?
 *
 * Answers 200 when PostgreSQL and Redis both respond, 503 naming what is
 * down otherwise, so a load balancer can take a web host out of rotation.
 * The web server configs also route every /api/ path that no other
 * program claims here, so unknown API paths get the framework's JSON 404
 * instead of an HTML error page.
 *
 * It also serves GET /api/openapi.json, the API document the build
 * generates from every program's route table (kg_route.h).
 */
#include "kg_app.h"
#include "kg_clock.h"
#include "kg_migrate.h"
#include "kg_redis.h"
#include "kg_req.h"
#include "kg_resp.h"
#include "kg_version.h"

static struct kg_buf api_doc;

/* {ok, latency_ms, schema | error}: is PostgreSQL there, and on which
 * migration. */
static cJSON *
check_database(int *ok)
{
	cJSON *o = cJSON_CreateObject();
	struct kg_err err = {0};
	int64_t t0 = kg_clock_us();
	char schema[128];

	*ok = kg_migrate_current(schema, sizeof(schema), &err) == 0;
	cJSON_AddBoolToObject(o, "ok", *ok);
	cJSON_AddNumberToObject(o, "latency_ms", kg_clock_ms_since(t0));
	if (*ok)
		cJSON_AddStringToObject(o, "schema", schema);
	else
		cJSON_AddStringToObject(o, "error", err.message);
	return o;
}

/* {ok, latency_ms, error?}: does Redis answer PING. */
static cJSON *
check_redis(int *ok)
{
	cJSON *o = cJSON_CreateObject();
	struct kg_err err = {0};
	int64_t t0 = kg_clock_us();

	*ok = kg_redis_ping(&err) == 0;
	cJSON_AddBoolToObject(o, "ok", *ok);
	cJSON_AddNumberToObject(o, "latency_ms", kg_clock_ms_since(t0));
	if (!*ok)
		cJSON_AddStringToObject(o, "error", err.message);
	return o;
}

static int
get_health(struct kg_req *req)
{
	cJSON *o = cJSON_CreateObject();
	int db_ok, redis_ok;

	cJSON_AddItemToObject(o, "database", check_database(&db_ok));
	cJSON_AddItemToObject(o, "redis", check_redis(&redis_ok));
	cJSON_AddStringToObject(o, "version", KG_VERSION);
	if (db_ok && redis_ok) {
		cJSON_AddStringToObject(o, "status", "ok");
		return kg_resp_json(req, 200, o);
	}
	cJSON_AddStringToObject(o, "status", "unavailable");
	cJSON_AddStringToObject(o, "error", "unavailable");
	cJSON_AddStringToObject(o, "message",
				!db_ok && !redis_ok ? "database and redis down"
				: !db_ok	    ? "database down"
						    : "redis down");
	kg_resp_header(req, "Retry-After", "5");
	return kg_resp_json(req, 503, o);
}

/* The API document, read once per process (it only changes with the
 * build, which restarts the programs). */
static int
get_openapi(struct kg_req *req)
{
	if (!api_doc.len && kg_app_openapi_file(&api_doc, &req->err) < 0) {
		kg_buf_free(&api_doc);
		return -1;
	}
	kg_resp_header(req, "Cache-Control", "public, max-age=300");
	if (kg_resp_start(req, 200, "application/json") < 0)
		return -1;
	return kg_resp_write(req, api_doc.data, api_doc.len);
}

static void
fini(void)
{
	kg_buf_free(&api_doc);
}

static const struct kg_route routes[] = {
	{"GET", "/api/health", get_health, 0,
	 .summary = "Can this host serve: PostgreSQL and Redis answer "
		    "(503 naming what is down)",
	 .response = "Health"},
	{"GET", "/api/openapi.json", get_openapi, 0,
	 .summary = "This document (OpenAPI 3.1)", .response = "OpenAPI"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"health", routes, NULL, fini};

	return kg_app_main(&app, argc, argv);
}
