#include "kg_jsonw.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

static void
put(struct kg_jsonw *w, const char *s, size_t n)
{
	if (kg_buf_add(&w->buf, s, n) < 0)
		w->oom = 1;
}

/* Before a key or value: the comma after the previous one. */
static void
comma(struct kg_jsonw *w)
{
	if (w->comma)
		put(w, ",", 1);
	w->comma = 1;
}

void
kg_jsonw_open(struct kg_jsonw *w, char bracket)
{
	comma(w);
	put(w, &bracket, 1);
	w->comma = 0;
}

void
kg_jsonw_close(struct kg_jsonw *w, char bracket)
{
	put(w, &bracket, 1);
	w->comma = 1;
}

/*
 * How many bytes at s[0..n) need no escaping: eight at a time while none
 * of them is '"', '\\' or below 0x20 (the bit tricks are exact about
 * whether a word holds such a byte, not about which), then byte by byte.
 * The bulk of every answer is text without a quote in it.
 */
static size_t
plain_run(const unsigned char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull;
	const uint64_t high = 0x8080808080808080ull;
	uint64_t x, q, b;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&x, s + i, 8);
		q = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		if ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
		     ((b - ones) & ~b)) & high)
			break;
	}
	while (i < n && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
		i++;
	return i;
}

/* cJSON's print_string_ptr: escape '"', '\\' and bytes below 0x20. */
static void
put_string(struct kg_jsonw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k;
	char esc[8];

	put(w, "\"", 1);
	while ((k = plain_run(p + i, n - i)) < n - i) {
		put(w, (const char *)p + i, k);
		i += k;
		switch (p[i]) {
		case '"': put(w, "\\\"", 2); break;
		case '\\': put(w, "\\\\", 2); break;
		case '\b': put(w, "\\b", 2); break;
		case '\f': put(w, "\\f", 2); break;
		case '\n': put(w, "\\n", 2); break;
		case '\r': put(w, "\\r", 2); break;
		case '\t': put(w, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			put(w, esc, 6);
		}
		i++;
	}
	put(w, (const char *)p + i, k);
	put(w, "\"", 1);
}

void
kg_jsonw_key(struct kg_jsonw *w, const char *key)
{
	comma(w);
	put_string(w, key);
	put(w, ":", 1);
	w->comma = 0;
}

void
kg_jsonw_str(struct kg_jsonw *w, const char *s)
{
	comma(w);
	put_string(w, s ? s : "");
}

/* cJSON's print_number (1.7.15): NaN and infinities are null, otherwise
 * %1.15g unless that does not read back as the same double, then %1.17g
 * (integers below 1e15 come out as plain digits). */
void
kg_jsonw_num(struct kg_jsonw *w, double d)
{
	char out[32];
	double back = 0;
	int n;

	comma(w);
	if (isnan(d) || isinf(d)) {
		put(w, "null", 4);
		return;
	}
	n = snprintf(out, sizeof(out), "%1.15g", d);
	if (sscanf(out, "%lg", &back) != 1 ||
	    !(fabs(back - d) <= fmax(fabs(back), fabs(d)) * DBL_EPSILON))
		n = snprintf(out, sizeof(out), "%1.17g", d);
	put(w, out, (size_t)n);
}

void
kg_jsonw_bool(struct kg_jsonw *w, int b)
{
	comma(w);
	put(w, b ? "true" : "false", b ? 4 : 5);
}

void
kg_jsonw_null(struct kg_jsonw *w)
{
	comma(w);
	put(w, "null", 4);
}

void
kg_jsonw_raw(struct kg_jsonw *w, const char *json)
{
	comma(w);
	put(w, json, strlen(json));
}

void
kg_jsonw_text_cell(struct kg_jsonw *w, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		kg_jsonw_null(w);
	else
		kg_jsonw_str(w, PQgetvalue(res, row, col));
}

void
kg_jsonw_num_cell(struct kg_jsonw *w, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		kg_jsonw_null(w);
	else
		kg_jsonw_num(w, strtod(PQgetvalue(res, row, col), NULL));
}

void
kg_jsonw_bool_cell(struct kg_jsonw *w, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		kg_jsonw_null(w);
	else
		kg_jsonw_bool(w, PQgetvalue(res, row, col)[0] == 't');
}

/*
 * "YYYY-MM-DD HH:MM:SS[.f]+HH[:MM[:SS]]" (DateStyle ISO) to the XSD form
 * json uses: 'T' between date and time, the zone always with minutes
 * ("+00" -> "+00:00").  Anything else (infinity) is written as it is.
 */
void
kg_jsonw_time_cell(struct kg_jsonw *w, const PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);
	size_t n = strlen(v), z;
	char out[64];

	if (PQgetisnull(res, row, col)) {
		kg_jsonw_null(w);
		return;
	}
	if (n < 19 || n + 4 > sizeof(out) || v[10] != ' ') {
		kg_jsonw_str(w, v);
		return;
	}
	memcpy(out, v, n + 1);
	out[10] = 'T';
	z = 19 + strcspn(out + 19, "+-");
	if (z < n && n - z == 3)
		memcpy(out + n, ":00", 4);
	kg_jsonw_str(w, out);
}

void
kg_jsonw_json_cell(struct kg_jsonw *w, const PGresult *res, int row, int col)
{
	cJSON *o = NULL;
	char *text = NULL;

	if (!PQgetisnull(res, row, col))
		o = cJSON_ParseWithLength(PQgetvalue(res, row, col),
					  (size_t)PQgetlength(res, row, col));
	if (o)
		text = cJSON_PrintUnformatted(o);
	if (text)
		kg_jsonw_raw(w, text);
	else if (o)
		w->oom = 1;
	else
		kg_jsonw_null(w);
	free(text);
	cJSON_Delete(o);
}

/* KG_JSONW_FLAG: 't' is true, anything else (NULL too) false. */
static void
flag_cell(struct kg_jsonw *w, const PGresult *res, int row, int col)
{
	kg_jsonw_bool(w, !PQgetisnull(res, row, col) &&
			 !strcmp(PQgetvalue(res, row, col), "t"));
}

static void (*const cell_writer[])(struct kg_jsonw *, const PGresult *, int,
				    int) = {
	[KG_JSONW_TEXT] = kg_jsonw_text_cell,
	[KG_JSONW_NUM] = kg_jsonw_num_cell,
	[KG_JSONW_BOOL] = kg_jsonw_bool_cell,
	[KG_JSONW_FLAG] = flag_cell,
	[KG_JSONW_TIME] = kg_jsonw_time_cell,
	[KG_JSONW_JSON] = kg_jsonw_json_cell,
};

void
kg_jsonw_row(struct kg_jsonw *w, const struct kg_jsonw_col *cols,
	     size_t ncols, const PGresult *res, int row, int base,
	     const void *ctx)
{
	for (size_t i = 0; i < ncols; i++) {
		kg_jsonw_key(w, cols[i].key);
		if (cols[i].kind == KG_JSONW_FN)
			cols[i].fn(w, res, row, ctx);
		else
			cell_writer[cols[i].kind](w, res, row,
						  base + cols[i].col);
	}
}
