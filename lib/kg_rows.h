/*
 * kg_rows - turns spreadsheet rows into validated project inputs.
 *
 * Fed row by row by a reader (kg_xlsx, kg_csv): the first non-empty row
 * that names at least one known column is the header (a few title lines
 * above it, often merged cells, are skipped), matched against the column aliases (Polish and English,
 * case-, punctuation- and diacritics-insensitive: "Budżet (PLN)",
 * "BUDZET", "budget" are one column).  Every later row is checked and
 * normalised into a JSON object with canonical keys:
 *
 *   name, description, organization        required text
 *   goal, target_group, location, keywords, notes   optional text
 *   budget       number (PLN) from a number cell or text "1 234,56 zł"
 *   start_date, end_date   "YYYY-MM-DD" from date cells, Excel serials,
 *                          "dd.mm.yyyy" or ISO text
 *
 * Problems are collected, never thrown: every one is reported at once as
 * {row, column, field, code, message} with the row and column letter the
 * user sees in Excel and a Polish message.
 */
#ifndef KG_ROWS_H
#define KG_ROWS_H

#include <cjson/cJSON.h>

#include "kg_buf.h"
#include "kg_dict.h"
#include "kg_sheet.h"

enum kg_rows_kind { KG_ROWS_TEXT, KG_ROWS_AMOUNT, KG_ROWS_DATE };

/* The template's columns, in template order (data: the template, the
 * validator and the API all read this one table). */
struct kg_rows_column {
	const char *key;	/* canonical key in projects.input */
	const char *label;	/* Polish header of the template */
	int required;
	enum kg_rows_kind kind;
	size_t max_chars;	/* KG_ROWS_TEXT */
	const char *aliases;	/* folded header spellings, '|'-separated */
	const char *help;	/* Polish explanation for the template */
	const char *example;	/* example value for the template */
};

extern const struct kg_rows_column kg_rows_columns[];
extern const size_t kg_rows_ncolumns;

#define KG_ROWS_MAX_ERRORS 200
#define KG_ROWS_MAX_TITLE_ROWS 5	/* title lines tolerated above the header */
#define KG_ROWS_MAX_COLS 256

/*
 * Where each valid project goes the moment it is validated (kg_batch
 * COPYs it into the batch's transaction; nothing keeps the rows): its
 * row, its name (the cell's normalised text) and its input object as
 * compact JSON, byte for byte what cJSON would print for it.  Called
 * only while the file has no error: after the first error nothing more
 * is sent and the rest of the file is only checked, so that every error
 * is still listed.  Returns 0, or -1 to stop reading (the sink keeps
 * why; kg_rows sets sink_failed).
 */
typedef int (*kg_rows_sink_fn)(void *arg, unsigned row, const char *name,
			       const char *input, size_t len);

struct kg_rows {
	int header_seen;
	int title_rows;		/* rows above the header without a known column */
	int col_field[KG_ROWS_MAX_COLS];	/* column -> field index or -1 */
	unsigned header_row;
	cJSON *errors;		/* array of {row, column, field, code, message} */
	int nerrors;		/* errors listed */
	int dropped;		/* errors past KG_ROWS_MAX_ERRORS */
	struct kg_dict names;	/* folded names seen -> first row */
	double feed_ms;		/* time spent in kg_rows_feed (validation
				 * and the sink) */
	double sink_ms;		/* of it, in the sink */
	unsigned nvalid;	/* valid projects seen */
	unsigned nsent;		/* of them given to the sink */
	/* Set after kg_rows_init; NULL: validate only. */
	kg_rows_sink_fn sink;
	void *sink_arg;
	int sink_failed;	/* the sink returned -1; reading stopped */
	struct kg_buf input;	/* a row's JSON, reused row to row */
};

void kg_rows_init(struct kg_rows *r);
void kg_rows_free(struct kg_rows *r);

/* The kg_sheet_row_fn to pass to a reader (arg = struct kg_rows *). */
int kg_rows_feed(void *arg, unsigned row, const struct kg_cell *cells,
		 unsigned ncols);

/* After the last row: reports a missing header / no data.  Returns the
 * number of errors (0 = the file is valid). */
int kg_rows_finish(struct kg_rows *r);

/* Parsers exposed for unit tests. */
int kg_rows_parse_amount(const char *text, double *out);
int kg_rows_parse_date(const struct kg_cell *cell, char out[11]);
void kg_rows_fold_header(const char *in, char *out, size_t size);

#endif
