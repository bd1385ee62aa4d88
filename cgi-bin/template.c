/*
 * GET /api/template.xlsx - the spreadsheet template (public: the link
 * is shown next to validation errors, before anyone needs an account).
 * Built once per process and cached; it only changes with the software.
 */
#include "kg_app.h"
#include "kg_req.h"
#include "kg_resp.h"
#include "kg_sheet.h"
#include "kg_template.h"

static struct kg_buf cached;

static int
get_template(struct kg_req *req)
{
	if (!cached.len && kg_template_xlsx(&cached, &req->err) < 0)
		return -1;
	kg_resp_header(req, "Content-Disposition",
		       "attachment; filename=\"kartograf-szablon.xlsx\"");
	kg_resp_header(req, "Cache-Control", "public, max-age=3600");
	if (kg_resp_start(req, 200, KG_SHEET_XLSX_TYPE) < 0)
		return -1;
	return kg_resp_write(req, cached.data, cached.len);
}

static void
fini(void)
{
	kg_buf_free(&cached);
}

static const struct kg_route routes[] = {
	{"GET", "/api/template.xlsx", get_template, 0,
	 .summary = "The spreadsheet template to fill in",
	 .response = KG_SHEET_XLSX_TYPE},
	{0},
};

int
main(int argc, char **argv)
{
	static const struct kg_app app = {"template", routes, NULL, fini};

	return kg_app_main(&app, argc, argv);
}
