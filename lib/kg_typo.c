#include "kg_typo.h"
#include "kg_array.h"
#include "kg_utf8.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NBSP "\xc2\xa0"
#define NDASH "\xe2\x80\x93"
#define QUOTE_OPEN "\xe2\x80\x9e"	/* „ U+201E */
#define QUOTE_CLOSE "\xe2\x80\x9d"	/* ” U+201D */
#define QUOTE_NEST_OPEN "\xc2\xbb"	/* » U+00BB */
#define QUOTE_NEST_CLOSE "\xc2\xab"	/* « U+00AB */

/*
 * The data of rule 1 and 2.  Units are matched right after "<digit> ";
 * a unit ending in a letter must be followed by a non-letter, so "5 m"
 * matches but "5 marca" does not.  Longer entries first where one is a
 * prefix of another ("mln" before "m").
 */
static const char single_letters[] = "aiouwzAIOUWZ";

static const char *const units_after_number[] = {
	"zł", "gr", "PLN", "EUR", "USD", "%", "‰", "r.", "w.",
	"tys.", "mln", "mld", "proc.", "pkt", "szt.", "os.", "osób", "osoby",
	"osoba", "dni", "dzień", "tyg.", "mies.", "lat", "lata", "godz.",
	"min", "km", "cm", "mm", "m²", "m2", "m³", "m", "kg", "ha", "°C",
};

static const char *const abbrevs_before_number[] = {
	"nr", "Nr", "ok.", "s.", "str.", "art.", "ust.", "pkt", "poz.", "par.",
	"§", "tel.", "godz.",
};

/* kg_utf8's scanners over the unsigned bytes this file works on. */
static uint32_t
cp_at(const unsigned char *s, size_t n, size_t i, size_t *len)
{
	return kg_utf8_at((const char *)s, n, i, len);
}

static uint32_t
cp_before(const unsigned char *s, size_t n, size_t i)
{
	return kg_utf8_before((const char *)s, n, i);
}

/* Letters and digits of the scripts a Polish card may contain. */
static int
is_alnum_cp(uint32_t c)
{
	if (c < 0x80)
		return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' &&
						   (c | 0x20) <= 'z');
	if (c == 0xd7 || c == 0xf7)
		return 0;
	return (c >= 0xc0 && c <= 0x24f) || (c >= 0x370 && c <= 0x52f);
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* May a word start right after code point c?  (0 = start of text) */
static int
opens_word(uint32_t c)
{
	return c == 0 || kg_utf8_is_space(c) || c == '(' || c == '[' ||
	       c == '{' || c == '"' || c == 0x201e || c == 0xbb;
}

/* Does `word` occur at s[i] as a whole word (not followed by a letter)? */
static int
word_at(const unsigned char *s, size_t n, size_t i, const char *word)
{
	size_t wl = strlen(word), len;
	unsigned char last = (unsigned char)word[wl - 1];

	if (n - i < wl || memcmp(s + i, word, wl) != 0)
		return 0;
	if (i + wl == n || !(last >= 0x80 || is_alnum_cp(last)))
		return 1;
	return !is_alnum_cp(cp_at(s, n, i + wl, &len));
}

/* Rule 1: s[i] is a space after a single-letter word. */
static int
nbsp_after_letter(const unsigned char *s, size_t n, size_t i)
{
	size_t len;

	if (i == 0 || !strchr(single_letters, s[i - 1]))
		return 0;
	if (!opens_word(cp_before(s, n, i - 1)))
		return 0;
	return i + 1 < n && !kg_utf8_is_space(cp_at(s, n, i + 1, &len));
}

/* Rule 2: s[i] is a space inside "<number> <unit>", "<abbrev> <number>"
 * or between digit groups "1 234". */
static int
nbsp_in_number(const unsigned char *s, size_t n, size_t i)
{
	size_t k, j, wl;

	if (i > 0 && is_digit(s[i - 1])) {
		for (k = 0; k < KG_COUNT(units_after_number); k++)
			if (word_at(s, n, i + 1, units_after_number[k]))
				return 1;
		for (j = i; j > 0 && is_digit(s[j - 1]); j--)
			;
		if (i - j <= 3 && n - i > 3 && is_digit(s[i + 1]) &&
		    is_digit(s[i + 2]) && is_digit(s[i + 3]) &&
		    (n - i == 4 || !is_digit(s[i + 4])))
			return 1;
	}
	if (i + 1 >= n || !is_digit(s[i + 1]))
		return 0;
	for (k = 0; k < KG_COUNT(abbrevs_before_number); k++) {
		wl = strlen(abbrevs_before_number[k]);
		if (i >= wl &&
		    memcmp(s + i - wl, abbrevs_before_number[k], wl) == 0 &&
		    opens_word(cp_before(s, n, i - wl)))
			return 1;
	}
	return 0;
}

/* Rule 4: s[i] is '-' between two numbers that form a range. */
static int
range_hyphen(const unsigned char *s, size_t n, size_t i)
{
	size_t a = i, b = i + 1, ldig = 0, rdig = 0;
	int lsep = 0, rsep = 0;

	if (i == 0 || i + 1 >= n || !is_digit(s[i - 1]) || !is_digit(s[i + 1]))
		return 0;
	/* Left number: digits, with , or . only between digits. */
	while (a > 0 && (is_digit(s[a - 1]) || (a > 1 && (s[a - 1] == ',' ||
	       s[a - 1] == '.') && is_digit(s[a - 2]) && is_digit(s[a])))) {
		if (is_digit(s[a - 1]))
			ldig++;
		else
			lsep = 1;
		a--;
	}
	while (b < n && (is_digit(s[b]) || ((s[b] == ',' || s[b] == '.') &&
	       b + 1 < n && is_digit(s[b + 1])))) {
		if (is_digit(s[b]))
			rdig++;
		else
			rsep = 1;
		b++;
	}
	if (a > 0) {
		uint32_t c = cp_before(s, n, a);

		if (is_alnum_cp(c) || c == '-' || c == '/' || c == '+' ||
		    c == '.' || c == ',')
			return 0;
	}
	if (b < n && (s[b] == '-' || s[b] == '/'))
		return 0;
	if (!lsep && !rsep && ldig == 2 && rdig == 3)
		return 0;	/* postal code 00-950 */
	if (!lsep && !rsep && ldig == 4 && rdig == 2 && s[i + 1] == '0')
		return 0;	/* year-month 2026-03 */
	return 1;
}

/* Rule 5: s[i] is '-' in "word - word". */
static int
spaced_dash(const unsigned char *s, size_t n, size_t i)
{
	size_t len;

	if (i < 2 || i + 2 >= n || s[i - 1] != ' ' || s[i + 1] != ' ')
		return 0;
	return !kg_utf8_is_space(cp_before(s, n, i - 1)) &&
	       !kg_utf8_is_space(cp_at(s, n, i + 2, &len));
}

struct quotes {
	int open;	/* „ not yet closed */
	int nest;	/* » not yet closed */
	int last_open;	/* was the previous byte an opening straight quote */
};

static const char *
straight_quote(struct quotes *q, const unsigned char *s, size_t n, size_t i)
{
	uint32_t p = cp_before(s, n, i);
	size_t len;
	int opening;

	if (p == '"')	/* `""`: empty quote, or a nested one opening */
		opening = q->last_open && i + 1 < n &&
			  !kg_utf8_is_space(cp_at(s, n, i + 1, &len));
	else
		opening = p == 0 || kg_utf8_is_space(p) || p == '(' || p == '[' ||
			  p == '{' || p == 0x201e || p == 0xbb ||
			  p == 0x2013 || p == 0x2014 || p == '-';
	q->last_open = opening;
	if (opening && q->open > 0 && q->nest == 0) {
		q->nest++;
		return QUOTE_NEST_OPEN;
	}
	if (opening) {
		q->open++;
		return QUOTE_OPEN;
	}
	if (q->nest > 0) {
		q->nest--;
		return QUOTE_NEST_CLOSE;
	}
	if (q->open > 0)
		q->open--;
	return QUOTE_CLOSE;
}

/* Keep the nesting state right when the text already has curly quotes,
 * which is what makes a second pass leave them alone. */
static void
track_quote(struct quotes *q, uint32_t c)
{
	if (c == 0x201e)
		q->open++;
	else if (c == 0x201d && q->open > 0)
		q->open--;
	else if (c == 0xbb && q->open > 0)
		q->nest++;
	else if (c == 0xab && q->nest > 0)
		q->nest--;
	else if (c == '\n')
		q->open = q->nest = 0;
}

/* What replaces s[i], or NULL to copy it. */
static const char *
replacement(struct quotes *q, const unsigned char *s, size_t n, size_t i)
{
	switch (s[i]) {
	case ' ':
		if (nbsp_after_letter(s, n, i) || nbsp_in_number(s, n, i))
			return NBSP;
		return NULL;
	case '"':
		return straight_quote(q, s, n, i);
	case '-':
		if (range_hyphen(s, n, i) || spaced_dash(s, n, i))
			return NDASH;
		return NULL;
	default:
		return NULL;
	}
}

int
kg_typo_polish(const char *in, struct kg_buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), i = 0, from = 0, len;
	struct quotes q = {0};
	const char *rep;

	while (i < n) {
		rep = replacement(&q, s, n, i);
		if (s[i] != '"')
			q.last_open = 0;
		if (!rep) {
			track_quote(&q, cp_at(s, n, i, &len));
			i += len;
			continue;
		}
		if (kg_buf_append(out, s + from, i - from) < 0 ||
		    kg_buf_puts(out, rep) < 0)
			return -1;
		from = ++i;
	}
	return kg_buf_append(out, s + from, n - from);
}

int
kg_typo_money_grosze(long long grosze, struct kg_buf *out)
{
	unsigned long long u, zl;
	char digits[32];
	int nd, k;

	u = grosze < 0 ? 0ULL - (unsigned long long)grosze
		       : (unsigned long long)grosze;
	zl = u / 100;
	nd = snprintf(digits, sizeof(digits), "%llu", zl);
	if (grosze < 0 && kg_buf_puts(out, "-") < 0)
		return -1;
	for (k = 0; k < nd; k++) {
		if (k > 0 && (nd - k) % 3 == 0 && kg_buf_puts(out, NBSP) < 0)
			return -1;
		if (kg_buf_append(out, digits + k, 1) < 0)
			return -1;
	}
	return kg_buf_printf(out, ",%02llu" NBSP "zł", u % 100);
}

/*
 * Rounding on the decimal digits, not on amount * 100: 2.675 is stored
 * as 2.67499999…, and llround(2.675 * 100) gives 267 while the person
 * who typed 2,675 zł expects 2,68.  "%.15g" recovers the decimal the
 * double was parsed from (15 significant digits always round-trip),
 * then we round that string half away from zero.
 */
int
kg_typo_money(double amount, struct kg_buf *out)
{
	char txt[64], *p;
	long long g = 0;
	int neg, k;

	if (!isfinite(amount) || fabs(amount) >= 1e13)
		return -1;
	neg = amount < 0;
	if (fabs(amount) >= 1e-4) {
		snprintf(txt, sizeof(txt), "%.15g", fabs(amount));
		for (p = txt; is_digit((unsigned char)*p); p++)
			g = g * 10 + (*p - '0');
		if (*p == '.')
			p++;
		for (k = 0; k < 2; k++) {
			g = g * 10;
			if (is_digit((unsigned char)*p))
				g += *p++ - '0';
		}
		if (*p >= '5' && *p <= '9')
			g++;
	}
	return kg_typo_money_grosze(neg ? -g : g, out);
}

static int
parse_iso_date(const char *iso, int *y, int *m, int *d)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
				    30, 31};
	int k;

	if (!iso || strlen(iso) != 10 || iso[4] != '-' || iso[7] != '-')
		return -1;
	for (k = 0; k < 10; k++)
		if (k != 4 && k != 7 && !is_digit((unsigned char)iso[k]))
			return -1;
	*y = (iso[0] - '0') * 1000 + (iso[1] - '0') * 100 +
	     (iso[2] - '0') * 10 + (iso[3] - '0');
	*m = (iso[5] - '0') * 10 + (iso[6] - '0');
	*d = (iso[8] - '0') * 10 + (iso[9] - '0');
	if (*y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > mdays[*m - 1])
		return -1;
	if (*m == 2 && *d == 29 &&
	    !((*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0))
		return -1;
	return 0;
}

int
kg_typo_date(const char *iso, struct kg_buf *out)
{
	int y, m, d;

	if (parse_iso_date(iso, &y, &m, &d) < 0)
		return -1;
	return kg_buf_printf(out, "%02d.%02d.%04d", d, m, y);
}

int
kg_typo_date_long(const char *iso, struct kg_buf *out)
{
	static const char *const months[] = {
		"stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca",
		"lipca", "sierpnia", "września", "października", "listopada",
		"grudnia",
	};
	int y, m, d;

	if (parse_iso_date(iso, &y, &m, &d) < 0)
		return -1;
	return kg_buf_printf(out, "%d" NBSP "%s %04d" NBSP "r.", d,
			     months[m - 1], y);
}
