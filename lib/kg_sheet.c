#include "kg_sheet.h"
#include "kg_array.h"
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

/* Control characters read as spaces too: a cell's line break or tab is
 * a word break, nothing more. */
static int
is_space(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
	       kg_utf8_is_space(cp);
}

static int
is_dropped(uint32_t cp)
{
	return kg_utf8_is_invisible(cp);
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

	if (mark != 0x301 && mark != 0x307 && mark != 0x328)
		return 0;
	for (i = 0; i < KG_COUNT(compose_table); i++)
		if (compose_table[i].base == base &&
		    compose_table[i].mark == mark)
			return compose_table[i].composed;
	return 0;
}

/*
 * The writer's state: out->data[start..n) is this cell's text so far;
 * `space` says a space is pending (written only before a later visible
 * character, so runs collapse and the ends are trimmed); `last` is the
 * code point at out->data[last_off], the one a combining mark may join.
 */
struct norm {
	struct kg_buf *out;
	size_t start, n, last_off;
	uint32_t last;
	int space;
};

static void
norm_space(struct norm *w)
{
	if (w->space && w->n > w->start)
		w->out->data[w->n++] = ' ';
	w->space = 0;
}

/* A run of printable ASCII (0x21-0x7e), the bulk of every sheet: copied
 * as it is.  Returns its length. */
static size_t
norm_ascii(struct norm *w, const unsigned char *p, size_t len)
{
	size_t j = 0;

	while (j < len && p[j] > 0x20 && p[j] < 0x7f)
		j++;
	norm_space(w);
	memcpy(w->out->data + w->n, p, j);
	w->n += j;
	w->last_off = w->n - 1;
	w->last = p[j - 1];
	return j;
}

static void
norm_cp(struct norm *w, uint32_t cp)
{
	uint32_t c;

	if (is_space(cp)) {
		w->space = w->n > w->start;
		w->last = 0;
		return;
	}
	if (is_dropped(cp))
		return;
	if (w->last && (c = (uint32_t)compose(w->last, cp)) != 0) {
		/* base (1 byte) + mark (2) -> 2 bytes: never longer */
		w->n = w->last_off +
		       kg_utf8_encode(c, w->out->data + w->last_off);
		w->last = c;
		return;
	}
	norm_space(w);
	w->last_off = w->n;
	w->last = cp;
	w->n += kg_utf8_encode(cp, w->out->data + w->n);
}

/*
 * Eight bytes at p that is_normal() would pass one by one: printable
 * ASCII, single spaces (also with p[8] when p[7] is a space and `more`,
 * p[8] exists) and whole two-byte letters U+00C0-U+02FF (lead C3-CB, a
 * continuation right after it, no lead as the last byte).
 */
static int
plain_word(const unsigned char *p, int more)
{
	uint64_t x, sp, top2, cont, low, lead;

	memcpy(&x, p, 8);
	if (kg_zero_bytes(x & KG_ONES * 0xe0) ||
	    kg_zero_bytes(x ^ KG_ONES * 0x7f))
		return 0;	/* C0 controls, DEL */
	if (x & KG_HIGH) {
		top2 = x & KG_ONES * 0xc0;
		cont = kg_zero_bytes(top2 ^ KG_ONES * 0x80);
		/* 11xxxxxx with the low six bits 3..11: C3..CB (the sums
		 * stay below 0x100, no carry between bytes) */
		low = x & KG_ONES * 0x3f;
		lead = kg_zero_bytes(top2 ^ KG_ONES * 0xc0) &
		       (low + KG_ONES * 0x7d) & ~(low + KG_ONES * 0x74);
		if ((x & KG_HIGH) != (cont | lead) || cont != lead << 8 ||
		    lead >> 63)
			return 0;
	}
	sp = kg_zero_bytes(x ^ KG_ONES * ' ');
	return !(sp & sp >> 8) && !(more && sp >> 63 && p[8] == ' ');
}

/*
 * Already normal -- the usual cell: printable ASCII with single spaces
 * inside and none at the ends, and two-byte letters U+00C0-U+02FF (the
 * Polish ones among them), i.e. nothing to replace, drop, collapse or
 * compose.  Such text comes out of the loop below byte for byte, so it
 * is copied instead (a check of ~3 instructions a byte instead of ~20).
 */
static int
is_normal(const unsigned char *p, size_t len)
{
	size_t i = 0, end;

	if (len && (p[0] == ' ' || p[len - 1] == ' '))
		return 0;
	while (i < len) {
		if (i + 8 <= len && plain_word(p + i, i + 8 < len)) {
			i += 8;
			continue;
		}
		/* a word with something else in it: byte by byte */
		for (end = i + 8 < len ? i + 8 : len; i < end;) {
			if (p[i] > 0x20 && p[i] < 0x7f)
				i++;
			else if (p[i] == ' ' && p[i + 1] != ' ')
				i++;	/* not the last byte: p[i + 1] exists */
			else if (p[i] >= 0xc3 && p[i] <= 0xcb && i + 1 < len &&
				 (p[i + 1] & 0xc0) == 0x80)
				i += 2;
			else
				return 0;
		}
	}
	return 1;
}

/*
 * Valid UTF-8 never grows here (a whitespace run of >= 1 byte becomes at
 * most one space, a base + mark shrinks, re-encoding a strictly decoded
 * character gives its bytes back), so `len` bytes are reserved once; a
 * replacement (1 byte -> 3) reserves for itself.
 */
int
kg_sheet_norm(const char *s, size_t len, struct kg_buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	struct norm w = {out, out->len, out->len, 0, 0, 0};
	size_t i = 0, adv;
	int replaced = 0;
	uint32_t d;

	if (is_normal(p, len))
		return kg_buf_add(out, s, len) < 0 ? -1 : 0;
	if (kg_buf_reserve(out, len) < 0)
		return -1;
	while (i < len) {
		if (p[i] > 0x20 && p[i] < 0x7f) {
			i += norm_ascii(&w, p + i, len - i);
			continue;
		}
		if (p[i] < 0x80) {
			norm_cp(&w, p[i++]);
			continue;
		}
		/* U+00C0-U+02FF (Polish letters among them): no space, no
		 * mark, nothing to drop -- copied as they are */
		if (p[i] >= 0xc3 && p[i] <= 0xcb && i + 1 < len &&
		    (p[i + 1] & 0xc0) == 0x80) {
			norm_space(&w);
			w.last_off = w.n;
			w.last = (uint32_t)(p[i] & 0x1f) << 6 | (p[i + 1] & 0x3f);
			w.out->data[w.n++] = (char)p[i++];
			w.out->data[w.n++] = (char)p[i++];
			continue;
		}
		/* an invalid byte becomes U+FFFD; decoding resumes after it */
		adv = kg_utf8_decode(p + i, len - i, &d);
		if (!adv) {
			replaced++;
			d = 0xfffd;
			adv = 1;
			out->len = w.n;
			if (kg_buf_reserve(out, len - i + 3) < 0)
				return -1;
		}
		i += adv;
		norm_cp(&w, d);
	}
	out->len = w.n;
	out->data[w.n] = '\0';
	return replaced;
}

/* ---- numbers and dates ----------------------------------------------- */

/*
 * The common case without printf: v = k / 10^d for an integer k of at
 * most 15 digits.  k and 10^d are exact doubles, so the quotient is
 * correctly rounded just as strtod rounds the text; the smallest such d
 * has no trailing zero, and 15 digits are below a double's precision, so
 * this is exactly what "%.15g" prints.  Returns 0 when v is not such a
 * number (or |v| is where %g switches to an exponent).
 */
static int
number_text_fast(double v, char out[32])
{
	static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
				     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14};
	double a = fabs(v), x;
	char dig[20];
	int d, n = 0, o = 0;
	uint64_t k = 0;

	if (!(a >= 1e-4 && a < 1e15))
		return 0;
	for (d = 0; d < 15; d++) {
		x = nearbyint(a * p10[d]);
		if (x >= 1e15)
			return 0;
		if (x / p10[d] == a) {
			k = (uint64_t)x;
			break;
		}
	}
	if (d == 15)
		return 0;
	do {
		dig[n++] = (char)('0' + k % 10);
		k /= 10;
	} while (k || n <= d);
	if (v < 0)
		out[o++] = '-';
	while (n) {
		out[o++] = dig[--n];
		if (n == d && d)
			out[o++] = '.';
	}
	out[o] = '\0';
	return 1;
}

void
kg_sheet_number_text(double v, char out[32])
{
	int prec;

	if (v == 0) {
		strcpy(out, "0");
		return;
	}
	if (number_text_fast(v, out))
		return;
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

/* "YYYY-MM-DD" for 1900 <= y <= 9999, without printf (once a cell). */
static void
iso_date(int y, unsigned m, unsigned d, char out[11])
{
	out[0] = (char)('0' + y / 1000 % 10);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = out[7] = '-';
	out[5] = (char)('0' + m / 10 % 10);
	out[6] = (char)('0' + m % 10);
	out[8] = (char)('0' + d / 10 % 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
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
	iso_date(y, m, d, out);
	return 0;
}

static size_t
two_digits(char *out, long v)
{
	out[0] = (char)('0' + v / 10 % 10);
	out[1] = (char)('0' + v % 10);
	return 2;
}

/* "HH:MM[:SS]" (or "MM:SS" without hours) of `secs`; hours and minutes
 * not wrapped when elapsed, so "[h]:mm" of 37.5 hours is "37:30". */
static void
clock_text(long long secs, unsigned fmt, char *out)
{
	long long lead;
	size_t n = 0;
	char tmp[24];
	int k = 0;

	if (!(fmt & KG_FMT_ELAPSED))
		secs %= fmt & KG_FMT_HOUR ? 86400 : 3600;
	lead = fmt & KG_FMT_HOUR ? secs / 3600 : secs / 60;
	do {
		tmp[k++] = (char)('0' + lead % 10);
		lead /= 10;
	} while (lead);
	if (k < 2)
		tmp[k++] = '0';
	while (k)
		out[n++] = tmp[--k];
	out[n++] = ':';
	if (fmt & KG_FMT_HOUR) {
		n += two_digits(out + n, (long)(secs / 60 % 60));
		if (fmt & KG_FMT_SEC) {
			out[n++] = ':';
			n += two_digits(out + n, (long)(secs % 60));
		}
	} else {
		n += two_digits(out + n, (long)(secs % 60));
	}
	out[n] = '\0';
}

int
kg_sheet_serial_text(double serial, int date1904, unsigned fmt,
		     char out[32])
{
	long long secs;
	double days;

	/* beyond 9999-12-31 or a time that is no number of seconds */
	if (!isfinite(serial) || serial < 0 || serial >= 2958466 ||
	    !(fmt & (KG_FMT_DATE | KG_FMT_TIME)))
		return -1;
	secs = llround(serial * 86400);
	if (!(fmt & KG_FMT_DATE)) {
		clock_text(secs, fmt, out);
		return KG_CELL_TIME;
	}
	/* a date alone shows the day the serial is in, as before */
	if (!(fmt & (KG_FMT_HOUR | KG_FMT_SEC)))
		return kg_sheet_serial_date(serial, date1904, out) < 0
			       ? -1 : KG_CELL_DATE;
	days = (double)(secs / 86400);
	if (kg_sheet_serial_date(days, date1904, out) < 0)
		return -1;
	out[10] = ' ';
	clock_text(secs % 86400, (fmt | KG_FMT_HOUR) & ~KG_FMT_ELAPSED,
		   out + 11);
	return KG_CELL_DATE;
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

static int
too_many_columns(const struct kg_sheet_rows *r, unsigned row, unsigned col,
		 struct kg_err *err)
{
	char name[8], last[8];

	kg_sheet_col_name(col < EXCEL_MAX_COLS ? col : EXCEL_MAX_COLS, name);
	kg_sheet_col_name(r->lim->max_cols - 1, last);
	return kg_err_set(err, 400, "too_many_columns",
			  "cell %s%u is right of column %s: at most %u "
			  "columns are read", name, row, last,
			  r->lim->max_cols);
}

/* The cell's text is r->text.data[start..len): terminate and record it. */
static int
cell_done(struct kg_sheet_rows *r, unsigned col, enum kg_cell_type type,
	  size_t start, double number, struct kg_err *err)
{
	if (kg_buf_add(&r->text, "", 1) < 0)
		return kg_err_set(err, 500, "internal", "out of memory");
	r->off[col] = start;
	r->cells[col].type = type;
	r->cells[col].number = number;
	if (col >= r->ncols)
		r->ncols = col + 1;
	return 0;
}

int
kg_sheet_rows_put(struct kg_sheet_rows *r, unsigned row, unsigned col,
		  enum kg_cell_type type, const char *text, size_t len,
		  double number, struct kg_err *err)
{
	size_t start = r->text.len;

	if (type == KG_CELL_EMPTY || (type == KG_CELL_TEXT && !len))
		return 0;
	if (col >= r->lim->max_cols)
		return too_many_columns(r, row, col, err);
	if (kg_buf_add(&r->text, text, len) < 0)
		return kg_err_set(err, 500, "internal", "out of memory");
	return cell_done(r, col, type, start, number, err);
}

/* Normalised straight into the row's text: no copy, no allocation once
 * the row buffer has grown to a row's size. */
int
kg_sheet_rows_put_text(struct kg_sheet_rows *r, unsigned row, unsigned col,
		       const char *raw, size_t len, struct kg_err *err)
{
	size_t start = r->text.len;

	if (kg_sheet_norm(raw, len, &r->text) < 0) {
		r->text.len = start;
		return kg_err_set(err, 500, "internal", "out of memory");
	}
	if (r->text.len == start)
		return 0;
	if (col >= r->lim->max_cols) {
		r->text.len = start;
		r->text.data[start] = '\0';
		return too_many_columns(r, row, col, err);
	}
	return cell_done(r, col, KG_CELL_TEXT, start, 0, err);
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
