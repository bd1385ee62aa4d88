/*
 * GET /metrics - Prometheus metrics (kg_metrics).  Not user data, but
 * not public either: the scraper must send "Authorization: Bearer
 * <[metrics] token>"; everyone else gets 404, so the endpoint is not
 * advertised.  Without a token configured nobody is answered.  (It used
 * to answer loopback clients without a token, but behind a reverse proxy
 * or TLS terminator on the same host every request comes from loopback;
 * X-Forwarded-For cannot fix that for a proxy that does not send it.)
 * kartograf-admin config-check and this program's start warn about an
 * empty token.
 */
#include "kg_app.h"
#include "kg_buf.h"
#include "kg_config.h"
#include "kg_log.h"
#include "kg_metrics.h"
#include "kg_req.h"
#include "kg_resp.h"

#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

static int
allowed(struct kg_req *req)
{
	const char *token = kg_config_str("metrics", "token");
	const char *auth = kg_req_env(req, "HTTP_AUTHORIZATION");
	size_t n = strlen(token);

	return n > 0 && auth && !strncasecmp(auth, "Bearer ", 7) &&
	       strlen(auth + 7) == n && !CRYPTO_memcmp(auth + 7, token, n);
}

static int
get_metrics(struct kg_req *req)
{
	struct kg_buf out = {0};
	int rc;

	if (!allowed(req))
		return kg_req_fail(req, 404, "not_found", "no such resource");
	kg_metrics_render(&out);
	rc = kg_resp_start(req, 200, "text/plain; version=0.0.4; "
				     "charset=utf-8");
	if (rc == 0)
		rc = kg_resp_write(req, kg_buf_str(&out), out.len);
	kg_buf_free(&out);
	return rc;
}

static int
init(struct kg_err *err)
{
	(void)err;
	if (!*kg_config_str("metrics", "token"))
		KG_WARN("[metrics] token is empty: GET /metrics answers "
			"nobody until one is set");
	return 0;
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
	static const struct kg_app app = {"metrics", routes, init, NULL};

	return kg_app_main(&app, argc, argv);
}
