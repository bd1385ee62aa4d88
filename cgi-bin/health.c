/*
 * GET /api/health - is this host able to serve?
 *
 * Answers 200 when PostgreSQL and Redis both respond, 503 naming what is
 * down otherwise, so a load balancer can take a web host out of rotation.
 * The web server configs also route every /api/ path that no other
 * program claims here, so unknown API paths get the framework's JSON 404
 * instead of an HTML error page.
 */
#include "kg_db.h"
#include "kg_http.h"
#include "kg_redis.h"
#include "kg_version.h"

#include <time.h>

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static cJSON *
check_database(int *ok)
{
	cJSON *o = cJSON_CreateObject();
	struct kg_err err = {0};
	struct timespec t0;
	PGresult *res;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	res = kg_db_query(&err, "SELECT coalesce(max(version), '') "
				"FROM schema_migrations", 0, NULL);
	*ok = res != NULL;
	cJSON_AddBoolToObject(o, "ok", *ok);
	cJSON_AddNumberToObject(o, "latency_ms", ms_since(&t0));
	if (res)
		cJSON_AddStringToObject(o, "schema", PQgetvalue(res, 0, 0));
	else
		cJSON_AddStringToObject(o, "error", err.message);
	PQclear(res);
	return o;
}

static cJSON *
check_redis(int *ok)
{
	cJSON *o = cJSON_CreateObject();
	struct kg_err err = {0};
	struct timespec t0;
	redisReply *r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = kg_redis_cmd(&err, "PING");
	*ok = r && r->type == REDIS_REPLY_STATUS;
	cJSON_AddBoolToObject(o, "ok", *ok);
	cJSON_AddNumberToObject(o, "latency_ms", ms_since(&t0));
	if (!*ok)
		cJSON_AddStringToObject(o, "error", r ? r->str : err.message);
	freeReplyObject(r);
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

static const struct kg_route routes[] = {
	{"GET", "/api/health", get_health, 0},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"health", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
