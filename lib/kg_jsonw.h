/*
 * kg_jsonw - a streaming JSON writer into a kg_buf, for answers built
 * from database rows (kg_project, kg_batch): no tree, no allocation per
 * value, one pass.
 *
 * The output is byte for byte what cJSON_PrintUnformatted() prints for
 * the same values (the API's answers were cJSON's before, and clients
 * and tests hold them to that): strings escape only '"', '\\' and
 * control characters (\b \f \n \r \t, others as \u00xx), everything else
 * raw; numbers as cJSON 1.7.15 prints a double (%1.15g, or %1.17g when
 * that does not read back; NaN and infinities as null).  test_jsonw
 * compares both, so a cJSON that prints differently is noticed.
 *
 *   struct kg_jsonw w = {0};
 *   kg_jsonw_open(&w, '{');
 *   kg_jsonw_key(&w, "id");   kg_jsonw_str(&w, id);
 *   kg_jsonw_key(&w, "rows"); kg_jsonw_open(&w, '[');
 *   ...                       kg_jsonw_close(&w, ']');
 *   kg_jsonw_close(&w, '}');
 *   if (w.oom) ...;  w.buf holds the text.
 *
 * Commas are the writer's business: after open or key the next value
 * needs none, after a value the next one does.  A zeroed struct is an
 * empty writer; w.buf may also start with text to append to.
 */
#ifndef KG_JSONW_H
#define KG_JSONW_H

#include <libpq-fe.h>

#include "kg_buf.h"

struct kg_jsonw {
	struct kg_buf buf;
	int comma;	/* a comma is due before the next key or value */
	int oom;	/* an append failed: the text is incomplete */
};

void kg_jsonw_open(struct kg_jsonw *w, char bracket);	/* '{' or '[' */
void kg_jsonw_close(struct kg_jsonw *w, char bracket);	/* '}' or ']' */
void kg_jsonw_key(struct kg_jsonw *w, const char *key);
void kg_jsonw_str(struct kg_jsonw *w, const char *s);
void kg_jsonw_num(struct kg_jsonw *w, double d);
void kg_jsonw_bool(struct kg_jsonw *w, int b);
void kg_jsonw_null(struct kg_jsonw *w);
/* A value already in JSON text (compact, as this writer makes it). */
void kg_jsonw_raw(struct kg_jsonw *w, const char *json);

/*
 * A result cell as a value; SQL NULL is null.  text: string; num: a
 * number column (integer or numeric); bool: 't'/'f'; time: timestamptz
 * in DateStyle ISO (kg_db sets it) written as json's to_json() does,
 * "2026-03-01T10:15:30.5+00:00"; json: json/jsonb text, re-printed
 * compactly through cJSON (malformed: null).
 */
void kg_jsonw_text_cell(struct kg_jsonw *w, const PGresult *res, int row,
			int col);
void kg_jsonw_num_cell(struct kg_jsonw *w, const PGresult *res, int row,
		       int col);
void kg_jsonw_bool_cell(struct kg_jsonw *w, const PGresult *res, int row,
			int col);
void kg_jsonw_time_cell(struct kg_jsonw *w, const PGresult *res, int row,
			int col);
void kg_jsonw_json_cell(struct kg_jsonw *w, const PGresult *res, int row,
			int col);

/*
 * A result row as an object's members, declared once as a table: one
 * entry per member, in answer order, naming its key and where its value
 * comes from.  kg_jsonw_row() writes "key":value for each (the caller
 * opens and closes the object, so it may add members around them).
 *
 *   static const struct kg_jsonw_col batch_cols[] = {
 *           {"id", KG_JSONW_TEXT, 0},
 *           {"created_at", KG_JSONW_TIME, 5},
 *           {"counts", KG_JSONW_FN, 0, counts_json},
 *   };
 *   kg_jsonw_open(&w, '{');
 *   kg_jsonw_row(&w, batch_cols, KG_COUNT(batch_cols), res, row, 0, NULL);
 *   kg_jsonw_close(&w, '}');
 */
enum kg_jsonw_kind {
	KG_JSONW_TEXT,	/* kg_jsonw_text_cell */
	KG_JSONW_NUM,	/* kg_jsonw_num_cell */
	KG_JSONW_BOOL,	/* kg_jsonw_bool_cell: 't'/'f', NULL is null */
	KG_JSONW_FLAG,	/* true for 't', false otherwise (NULL too) */
	KG_JSONW_TIME,	/* kg_jsonw_time_cell */
	KG_JSONW_JSON,	/* kg_jsonw_json_cell */
	KG_JSONW_FN,	/* computed: fn writes the value */
};

struct kg_jsonw_col {
	const char *key;
	enum kg_jsonw_kind kind;
	int col;	/* result column, counted from kg_jsonw_row's base */
	void (*fn)(struct kg_jsonw *w, const PGresult *res, int row,
		   const void *ctx);
};

void kg_jsonw_row(struct kg_jsonw *w, const struct kg_jsonw_col *cols,
		  size_t ncols, const PGresult *res, int row, int base,
		  const void *ctx);

#endif
