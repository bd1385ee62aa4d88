/*
 * Building exports from the database (kg_export.h): a project's card as
 * .docx (kg_docx + kg_typo), and a batch as .zip of cards plus a summary
 * spreadsheet (libxlsxwriter).
 */
#include "kg_db.h"
#include "kg_array.h"
#include "kg_docx.h"
#include "kg_export.h"
#include "kg_zipw.h"
#include "kg_typo.h"
#include "kg_xlsxw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xlsxwriter.h>

#define MAX_FACTS 8
#define SUMMARY_NAME "podsumowanie.xlsx"

/* ---- the card ----------------------------------------------------------- */

/* Columns of the card query. */
enum {
	C_NAME, C_VERSION, C_STATUS, C_SCORE, C_ORG, C_BUDGET, C_START, C_END,
	C_LOCATION, C_FINISHED, C_UPDATED, C_OFFLINE
};

static const char card_sql[] =
	"SELECT p.name, p.version, p.status, p.quality_score, "
	"  p.input->>'organization', p.input->>'budget', "
	"  p.input->>'start_date', p.input->>'end_date', "
	"  p.input->>'location', "
	"  to_char(p.finished_at AT TIME ZONE 'Europe/Warsaw', 'YYYY-MM-DD'), "
	"  extract(epoch FROM p.updated_at)::bigint, "
	"  EXISTS (SELECT 1 FROM sections s WHERE s.project_id = p.id "
	"          AND s.origin = 'ai' AND s.provider = 'offline') "
	"FROM projects p WHERE p.id = $1";

static const char sections_sql[] =
	"SELECT d.title, coalesce(s.body, '') FROM section_defs d "
	"LEFT JOIN sections s ON s.project_id = $1 AND s.key = d.key "
	"ORDER BY d.position";

/* Facts keep pointers into `text`, one NUL-separated string each. */
struct facts {
	struct kg_docx_fact f[MAX_FACTS];
	size_t n;
	struct kg_buf text[MAX_FACTS];
};

static void
add_fact(struct facts *fs, const char *label, struct kg_buf *value)
{
	if (!value->len || fs->n == MAX_FACTS) {
		kg_buf_free(value);
		return;
	}
	fs->text[fs->n] = *value;
	memset(value, 0, sizeof(*value));
	fs->f[fs->n].label = label;
	fs->f[fs->n].value = fs->text[fs->n].data;
	fs->n++;
}

static void
fact_text(struct facts *fs, const char *label, const char *s)
{
	struct kg_buf b = {0};

	if (*s)
		kg_buf_puts(&b, s);
	add_fact(fs, label, &b);
}

/* A date as 15.03.2026; text that is not an ISO date is shown as is. */
static void
fact_date(struct facts *fs, const char *label, const char *iso)
{
	struct kg_buf b = {0};

	if (*iso && kg_typo_date(iso, &b) < 0)
		kg_buf_puts(&b, iso);
	add_fact(fs, label, &b);
}

static void
fact_money(struct facts *fs, const char *label, const char *amount)
{
	struct kg_buf b = {0};
	char *end;
	double v;

	if (*amount) {
		v = strtod(amount, &end);
		if (*end || end == amount || kg_typo_money(v, &b) < 0)
			kg_buf_puts(&b, amount);
	}
	add_fact(fs, label, &b);
}

static void
facts_free(struct facts *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		kg_buf_free(&fs->text[i]);
}

static void
card_facts(PGresult *p, struct facts *fs)
{
	struct kg_buf score = {0};

	fact_text(fs, "Wnioskodawca", PQgetvalue(p, 0, C_ORG));
	fact_money(fs, "Budżet", PQgetvalue(p, 0, C_BUDGET));
	fact_date(fs, "Data rozpoczęcia", PQgetvalue(p, 0, C_START));
	fact_date(fs, "Data zakończenia", PQgetvalue(p, 0, C_END));
	fact_text(fs, "Lokalizacja", PQgetvalue(p, 0, C_LOCATION));
	fact_date(fs, "Data wygenerowania", PQgetvalue(p, 0, C_FINISHED));
	if (!PQgetisnull(p, 0, C_SCORE))
		kg_buf_printf(&score, "%s/100", PQgetvalue(p, 0, C_SCORE));
	add_fact(fs, "Ocena jakości", &score);
}

int
kg_export_card(const char *project_id, struct kg_buf *out, int *version,
	       struct kg_err *err)
{
	struct kg_docx_section *secs = NULL;
	struct facts fs = {0};
	PGresult *p, *s = NULL;
	const char *org;
	int n, rc = -1;

	p = KG_DB_QUERY(err, card_sql, project_id);
	if (!p)
		return -1;
	if (PQntuples(p) != 1) {
		kg_err_set(err, 404, "not_found", "no such project");
		goto out;
	}
	if (strcmp(PQgetvalue(p, 0, C_STATUS), "COMPLETED")) {
		kg_err_set(err, 409, "not_completed",
			   "only a completed card can be exported");
		goto out;
	}
	s = KG_DB_QUERY(err, sections_sql, project_id);
	if (!s)
		goto out;
	n = PQntuples(s);
	secs = calloc((size_t)n + 1, sizeof(*secs));
	if (!secs) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		secs[i].title = PQgetvalue(s, i, 0);
		secs[i].body = PQgetvalue(s, i, 1);
	}
	card_facts(p, &fs);
	org = PQgetvalue(p, 0, C_ORG);
	struct kg_docx_card card = {
		.title = PQgetvalue(p, 0, C_NAME),
		.author = *org ? org : "Kartograf",
		.created = (time_t)atoll(PQgetvalue(p, 0, C_UPDATED)),
		.facts = fs.f, .nfacts = fs.n,
		.sections = secs, .nsections = (size_t)n,
		.footer_note = !strcmp(PQgetvalue(p, 0, C_OFFLINE), "t")
				       ? "Tekst wygenerowany offline"
				       : NULL,
	};
	if (kg_docx_build(&card, out, err) < 0)
		goto out;
	if (version)
		*version = atoi(PQgetvalue(p, 0, C_VERSION));
	rc = 0;
out:
	facts_free(&fs);
	free(secs);
	PQclear(s);
	PQclear(p);
	return rc;
}

/* ---- the batch ---------------------------------------------------------- */

enum { B_ID, B_NAME, B_STATUS, B_SCORE, B_COST };

static const char batch_sql[] =
	"SELECT p.id, p.name, p.status, p.quality_score, "
	"  coalesce((SELECT sum(a.cost) FROM ai_calls a "
	"            WHERE a.project_id = p.id), 0) "
	"FROM projects p WHERE p.batch_id = $1 ORDER BY p.row_number";

/* UI labels of the statuses (DESIGN.md). */
static const struct {
	const char *status, *label;
} status_labels[] = {
	{"PENDING", "Oczekuje"},     {"QUEUED", "W kolejce"},
	{"GENERATING", "Generowanie…"}, {"COMPLETED", "Gotowe"},
	{"FAILED", "Błąd"},
};

static const char *
status_label(const char *status)
{
	for (size_t i = 0; i < KG_COUNT(status_labels);
	     i++)
		if (!strcmp(status_labels[i].status, status))
			return status_labels[i].label;
	return status;
}

/* File name for a card in the zip, unique among `used` (case-blind). */
static char *
unique_name(const char *project_name, char **used, size_t nused)
{
	struct kg_buf base = {0}, name = {0};
	int clash = 1;

	if (kg_export_filename(project_name, "karta", "", &base, NULL) < 0)
		goto fail;
	for (int k = 1; clash; k++) {
		kg_buf_reset(&name);
		if ((k == 1 ? kg_buf_printf(&name, "%s.docx", base.data)
			    : kg_buf_printf(&name, "%s (%d).docx", base.data,
					    k)) < 0)
			goto fail;
		clash = 0;
		for (size_t i = 0; i < nused && !clash; i++)
			clash = !strcasecmp(used[i], name.data);
	}
	kg_buf_free(&base);
	return kg_buf_take(&name);
fail:
	kg_buf_free(&base);
	kg_buf_free(&name);
	return NULL;
}

static void
summary_rows(lxw_workbook *wb, lxw_worksheet *ws, PGresult *res,
	     char **files, time_t now)
{
	static const char *const head[] = {
		"Lp.", "Nazwa projektu", "Status", "Jakość", "Koszt AI",
		"Data eksportu", "Plik"};
	static const double width[] = {5, 50, 14, 9, 12, 18, 50};
	lxw_format *bold = workbook_add_format(wb);
	lxw_format *when = workbook_add_format(wb);
	lxw_format *cost = workbook_add_format(wb);
	struct tm tm;
	lxw_datetime dt;

	localtime_r(&now, &tm);
	dt = (lxw_datetime){tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			    tm.tm_hour, tm.tm_min, tm.tm_sec};
	format_set_bold(bold);
	format_set_bg_color(bold, 0xDDEBF7);
	format_set_num_format(when, "dd.mm.yyyy hh:mm");
	format_set_num_format(cost, "0.0000");
	for (lxw_col_t c = 0; c < 7; c++) {
		worksheet_set_column(ws, c, c, width[c], NULL);
		worksheet_write_string(ws, 0, c, head[c], bold);
	}
	for (int i = 0; i < PQntuples(res); i++) {
		lxw_row_t r = (lxw_row_t)i + 1;

		worksheet_write_number(ws, r, 0, i + 1, NULL);
		worksheet_write_string(ws, r, 1, PQgetvalue(res, i, B_NAME),
				       NULL);
		worksheet_write_string(ws, r, 2,
				       status_label(PQgetvalue(res, i,
							       B_STATUS)),
				       NULL);
		if (!PQgetisnull(res, i, B_SCORE))
			worksheet_write_number(
				ws, r, 3, atof(PQgetvalue(res, i, B_SCORE)),
				NULL);
		worksheet_write_number(ws, r, 4,
				       atof(PQgetvalue(res, i, B_COST)), cost);
		worksheet_write_datetime(ws, r, 5, &dt, when);
		if (files[i])
			worksheet_write_string(ws, r, 6, files[i], NULL);
	}
	worksheet_freeze_panes(ws, 1, 0);
	worksheet_autofilter(ws, 0, 0, (lxw_row_t)PQntuples(res), 6);
}

struct summary {
	PGresult *res;
	char **files;
	time_t now;
};

static void
summary_fill(lxw_workbook *wb, void *arg)
{
	struct summary *sm = arg;

	summary_rows(wb, workbook_add_worksheet(wb, "Podsumowanie"), sm->res,
		     sm->files, sm->now);
}

static int
summary_xlsx(PGresult *res, char **files, time_t now, struct kg_buf *out)
{
	struct summary sm = {res, files, now};

	return kg_xlsxw_build("Kartograf - podsumowanie", summary_fill, &sm,
			      out);
}

/* The cards of the COMPLETED projects into the zip, names into files[]. */
static int
zip_cards(struct kg_zipw *z, PGresult *res, char **files, time_t now,
	  struct kg_err *err)
{
	size_t nfiles = 0;
	char **used = calloc((size_t)PQntuples(res) + 1, sizeof(*used));
	int rc = -1;

	if (!used)
		return kg_err_set(err, 500, "internal", "out of memory");
	for (int i = 0; i < PQntuples(res); i++) {
		struct kg_buf docx = {0};

		if (strcmp(PQgetvalue(res, i, B_STATUS), "COMPLETED"))
			continue;
		files[i] = unique_name(PQgetvalue(res, i, B_NAME), used,
				       nfiles);
		if (!files[i]) {
			kg_err_set(err, 500, "internal", "out of memory");
			goto out;
		}
		used[nfiles++] = files[i];
		if (kg_export_card(PQgetvalue(res, i, B_ID), &docx, NULL,
				   err) < 0) {
			kg_buf_free(&docx);
			goto out;
		}
		/* a .docx is deflated already: storing costs nothing */
		if (kg_zipw_add(z, files[i], &docx, 1, now) < 0) {
			kg_err_set(err, 500, "zip_failed", "cannot build .zip: %s",
				   kg_zipw_error(z));
			goto out;
		}
	}
	rc = 0;
out:
	free(used);
	return rc;
}

int
kg_export_zip(const char *batch_id, time_t now, struct kg_buf *out,
	      struct kg_err *err)
{
	struct kg_buf summary = {0};
	struct kg_zipw z = {0};
	char **files = NULL;
	PGresult *res;
	int n = 0, rc = -1;

	res = KG_DB_QUERY(err, batch_sql, batch_id);
	if (!res)
		return -1;
	n = PQntuples(res);
	files = calloc((size_t)n + 1, sizeof(*files));
	if (!files) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto out;
	}
	if (kg_zipw_open(&z, err) < 0 || zip_cards(&z, res, files, now, err) < 0)
		goto out;
	if (summary_xlsx(res, files, now, &summary) < 0 ||
	    kg_zipw_add(&z, SUMMARY_NAME, &summary, 0, now) < 0) {
		kg_err_set(err, 500, "zip_failed",
			   "cannot build " SUMMARY_NAME);
		goto out;
	}
	if (kg_zipw_close(&z, out) < 0) {
		kg_err_set(err, 500, "zip_failed", "cannot build .zip: %s",
			   kg_zipw_error(&z));
		goto out;
	}
	rc = 0;
out:
	kg_zipw_discard(&z);
	for (int i = 0; files && i < n; i++)
		free(files[i]);
	free(files);
	kg_buf_free(&summary);
	PQclear(res);
	return rc;
}
