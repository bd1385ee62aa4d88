#include "kg_sheet.h"
#include "kg_utf8.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB ((size_t)1024 * 1024)
#define EXCEL_MAX_COLS 16384u

void
kg_sheet_limits_default(struct kg_sheet_limits *l)
{
	l->max_file = 10 * MIB;
	l->max_uncompressed = 100 * MIB;
	l->max_ratio = 100;
	l->max_entries = 1000;
	l->max_shared_strings = 32 * MIB;
	l->max_rows = 1000;
	l->max_cols = 64;
}

void
kg_sheet_col_name(unsigned col, char out[8])
{
	char tmp[8];
	int n = 0, i = 0;

	/* Bijective base 26: there is no zero digit, so subtract one per
	 * step ("Z" is 25, "AA" is 26). */
	col++;
	while (col && n < 7) {
		col--;
		tmp[n++] = (char)('A' + col % 26);
		col /= 26;
	}
	while (n)
		out[i++] = tmp[--n];
	out[i] = '\0';
}

/* ---- text normalisation ---------------------------------------------- */

static int
utf8_put(struct kg_buf *b, unsigned long cp)
{
	char u[4];

	return kg_buf_append(b, u, kg_utf8_encode((uint32_t)cp, u));
}

/* Control characters read as spaces too: a cell's line break or tab is
 * a word break, nothing more. */
static int
is_space(unsigned long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
	       kg_utf8_is_space((uint32_t)cp);
}

static int
is_dropped(unsigned long cp)
{
	return kg_utf8_is_invisible((uint32_t)cp);
}

/* Base letter + combining mark -> precomposed letter.  The Polish letters
 * first; the other acute vowels cost nothing and occur in names. */
static const struct {
	unsigned short base, mark, composed;
} compose_table[] = {
	{'A', 0x328, 0x104}, {'a', 0x328, 0x105},
	{'E', 0x328, 0x118}, {'e', 0x328, 0x119},
	{'C', 0x301, 0x106}, {'c', 0x301, 0x107},
	{'N', 0x301, 0x143}, {'n', 0x301, 0x144},
	{'O', 0x301, 0x0d3}, {'o', 0x301, 0x0f3},
	{'S', 0x301, 0x15a}, {'s', 0x301, 0x15b},
	{'Z', 0x301, 0x179}, {'z', 0x301, 0x17a},
	{'Z', 0x307, 0x17b}, {'z', 0x307, 0x17c},
	{'A', 0x301, 0x0c1}, {'a', 0x301, 0x0e1},
	{'E', 0x301, 0x0c9}, {'e', 0x301, 0x0e9},
	{'I', 0x301, 0x0cd}, {'i', 0x301, 0x0ed},
	{'U', 0x301, 0x0da}, {'u', 0x301, 0x0fa},
	{'Y', 0x301, 0x0dd}, {'y', 0x301, 0x0fd},
};

static unsigned long
compose(unsigned long base, unsigned long mark)
{
	size_t i;

	for (i = 0; i < sizeof(compose_table) / sizeof(compose_table[0]); i++)
		if (compose_table[i].base == base &&
		    compose_table[i].mark == mark)
			return compose_table[i].composed;
	return 0;
}

int
kg_sheet_norm(const char *s, size_t len, struct kg_buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, adv, start = out->len, last_off = 0;
	unsigned long cp, last = 0, c;
	int replaced = 0, space = 0;
	uint32_t d;

	while (i < len) {
		/* an invalid byte becomes U+FFFD; decoding resumes after it */
		adv = kg_utf8_decode(p + i, len - i, &d);
		if (!adv) {
			replaced++;
			d = 0xfffd;
			adv = 1;
		}
		i += adv;
		cp = d;
		if (is_space(cp)) {
			space = out->len > start;
			last = 0;
			continue;
		}
		if (is_dropped(cp))
			continue;
		if (last && (c = compose(last, cp)) != 0) {
			out->len = last_off;
			if (utf8_put(out, c) < 0)
				return -1;
			last = c;
			continue;
		}
		if (space && kg_buf_append(out, " ", 1) < 0)
			return -1;
		space = 0;
		last_off = out->len;
		last = cp;
		if (utf8_put(out, cp) < 0)
			return -1;
	}
	return replaced;
}

/* ---- numbers and dates ----------------------------------------------- */

void
kg_sheet_number_text(double v, char out[32])
{
	int prec;

	if (v == 0) {
		strcpy(out, "0");
		return;
	}
	/* 15 digits are exact for every decimal a user types; 17 are always
	 * enough for a double, so the loop ends. */
	for (prec = 15; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long
days_from_civil(long y, unsigned m, unsigned d)
{
	long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

static void
civil_from_days(long z, int *y, unsigned *m, unsigned *d)
{
	long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)((long)yoe + era * 400 + (*m <= 2));
}

int
kg_sheet_serial_date(double serial, int date1904, char out[11])
{
	long s, days;
	int y;
	unsigned m, d;

	if (!isfinite(serial))
		return -1;
	if (date1904) {
		if (serial < 0 || serial >= 2957004)
			return -1;
		s = (long)floor(serial);
		days = days_from_civil(1904, 1, 1) + s;
	} else {
		if (serial < 1 || serial >= 2958466)
			return -1;
		s = (long)floor(serial);
		if (s == 60) {
			strcpy(out, "1900-02-29");
			return 0;
		}
		/* Excel counts the phantom 1900-02-29, so from serial 61 on
		 * the epoch is one day earlier. */
		days = days_from_civil(1899, 12, s < 60 ? 31 : 30) + s;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(out, 11, "%04d-%02u-%02u", y, m % 100, d % 100);
	return 0;
}

static int
parse_digits(const char *s, int n)
{
	int v = 0;

	while (n--) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

int
kg_sheet_date_serial(const char *iso, int date1904, double *serial)
{
	static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30,
					      31, 31, 30, 31, 30, 31};
	int y, m, d, leap;
	long days, s;

	if (strlen(iso) < 10 || iso[4] != '-' || iso[7] != '-')
		return -1;
	y = parse_digits(iso, 4);
	m = parse_digits(iso + 5, 2);
	d = parse_digits(iso + 8, 2);
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m == 2 && d == 29 && !leap)
		return -1;
	days = days_from_civil(y, (unsigned)m, (unsigned)d);
	if (date1904) {
		s = days - days_from_civil(1904, 1, 1);
		if (s < 0)
			return -1;
	} else {
		s = days - days_from_civil(1899, 12, 30);
		if (s < 61)
			s = days - days_from_civil(1899, 12, 31);
	}
	*serial = (double)s;
	return 0;
}

/* ---- row assembler --------------------------------------------------- */

int
kg_sheet_rows_init(struct kg_sheet_rows *r, const struct kg_sheet_limits *lim,
		   kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	unsigned i;

	memset(r, 0, sizeof(*r));
	if (!lim->max_cols || lim->max_cols > EXCEL_MAX_COLS)
		return kg_err_set(err, 500, "internal",
				  "max_cols must be 1..%u", EXCEL_MAX_COLS);
	r->lim = lim;
	r->fn = fn;
	r->arg = arg;
	r->cells = calloc(lim->max_cols, sizeof(*r->cells));
	r->off = calloc(lim->max_cols, sizeof(*r->off));
	if (!r->cells || !r->off) {
		kg_sheet_rows_free(r);
		return kg_err_set(err, 500, "internal", "out of memory");
	}
	for (i = 0; i < lim->max_cols; i++)
		r->cells[i].text = "";
	return 0;
}

void
kg_sheet_rows_free(struct kg_sheet_rows *r)
{
	free(r->cells);
	free(r->off);
	kg_buf_free(&r->text);
	r->cells = NULL;
	r->off = NULL;
}

int
kg_sheet_rows_put(struct kg_sheet_rows *r, unsigned row, unsigned col,
		  enum kg_cell_type type, const char *text, size_t len,
		  double number, struct kg_err *err)
{
	char name[8], last[8];

	if (type == KG_CELL_EMPTY || (type == KG_CELL_TEXT && !len))
		return 0;
	if (col >= r->lim->max_cols) {
		kg_sheet_col_name(col < EXCEL_MAX_COLS ? col : EXCEL_MAX_COLS,
				  name);
		kg_sheet_col_name(r->lim->max_cols - 1, last);
		return kg_err_set(err, 400, "too_many_columns",
				  "cell %s%u is right of column %s: at most "
				  "%u columns are read", name, row, last,
				  r->lim->max_cols);
	}
	r->off[col] = r->text.len;
	if (kg_buf_append(&r->text, text, len) < 0 ||
	    kg_buf_append(&r->text, "", 1) < 0)
		return kg_err_set(err, 500, "internal", "out of memory");
	r->cells[col].type = type;
	r->cells[col].number = number;
	if (col >= r->ncols)
		r->ncols = col + 1;
	return 0;
}

int
kg_sheet_rows_put_text(struct kg_sheet_rows *r, unsigned row, unsigned col,
		       const char *raw, size_t len, struct kg_err *err)
{
	struct kg_buf tmp = {0};
	int rc;

	if (kg_sheet_norm(raw, len, &tmp) < 0) {
		kg_buf_free(&tmp);
		return kg_err_set(err, 500, "internal", "out of memory");
	}
	rc = kg_sheet_rows_put(r, row, col, KG_CELL_TEXT, kg_buf_str(&tmp),
			       tmp.len, 0, err);
	kg_buf_free(&tmp);
	return rc;
}

int
kg_sheet_rows_end(struct kg_sheet_rows *r, unsigned row, struct kg_err *err)
{
	unsigned i, n = r->ncols;
	int rc = 0;

	if (row <= r->last_row)
		return kg_err_set(err, 400, "bad_sheet",
				  "row %u comes after row %u; rows must be in "
				  "order", row, r->last_row);
	r->last_row = row;
	if (!n)
		return 0;	/* blank: skipped and not counted */
	if (++r->nrows > r->lim->max_rows + 1)
		return kg_err_set(err, 422, "too_many_rows",
				  "the sheet has more than %u data rows (row %u "
				  "is over the limit); split it into several "
				  "files", r->lim->max_rows, row);
	for (i = 0; i < n; i++)
		if (r->cells[i].type != KG_CELL_EMPTY)
			r->cells[i].text = r->text.data + r->off[i];
	if (r->fn)
		rc = r->fn(r->arg, row, r->cells, n);
	for (i = 0; i < n; i++) {
		r->cells[i].type = KG_CELL_EMPTY;
		r->cells[i].text = "";
		r->cells[i].number = 0;
	}
	r->ncols = 0;
	kg_buf_reset(&r->text);
	return rc ? 1 : 0;
}
