/*
 * GET /metrics - Prometheus metrics (kg_metrics).  Not user data, but
 * not public either: with [metrics] token set, the scraper must send
 * "Authorization: Bearer <token>"; without one only loopback clients
 * (a scraper on the web host itself) are answered.  Everyone else gets
 * 404, so the endpoint is not advertised.
 */
#include "kg_buf.h"
#include "kg_config.h"
#include "kg_http.h"
#include "kg_metrics.h"

#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

static int
allowed(struct kg_req *req)
{
	const char *token = kg_conf_str("metrics", "token");
	const char *auth = kg_req_env(req, "HTTP_AUTHORIZATION");
	const char *addr = kg_req_env(req, "REMOTE_ADDR");
	size_t n = strlen(token);

	if (!*token)
		return addr && (!strcmp(addr, "127.0.0.1") ||
				!strcmp(addr, "::1"));
	return auth && !strncasecmp(auth, "Bearer ", 7) &&
	       strlen(auth + 7) == n && !CRYPTO_memcmp(auth + 7, token, n);
}

static int
get_metrics(struct kg_req *req)
{
	struct kg_buf out = {0};
	int rc;

	if (!allowed(req))
		return kg_fail(req, 404, "not_found", "no such resource");
	kg_metrics_render(&out);
	rc = kg_resp_start(req, 200, "text/plain; version=0.0.4; "
				     "charset=utf-8");
	if (rc == 0)
		rc = kg_resp_write(req, kg_buf_str(&out), out.len);
	kg_buf_free(&out);
	return rc;
}

static const struct kg_route routes[] = {
	{"GET", "/metrics", get_metrics, 0,
	 .summary = "Prometheus metrics (Authorization: Bearer <[metrics] "
		    "token>, or loopback clients when no token is set)",
	 .response = "text/plain"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"metrics", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
