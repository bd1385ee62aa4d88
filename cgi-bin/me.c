/* GET /api/auth/me -> the signed-in user (checks a stored token). */
#include "kg_app.h"
#include "kg_req.h"
#include "kg_resp.h"

static int
get_me(struct kg_req *req)
{
	return kg_resp_json(req, 200, kg_user_json(&req->user));
}

static const struct kg_route routes[] = {
	{"GET", "/api/auth/me", get_me, KG_ROUTE_AUTH,
	 .summary = "The signed-in user", .response = "User"},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"me", routes, NULL, NULL};

	return kg_app_main(&app, argc, argv);
}
