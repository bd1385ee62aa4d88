/*
 * kg_quality - number scanning (kg_quality_int.h): the amounts, numbers
 * and dates of a text as tokens, in the Polish spellings kg_quality.h
 * lists, and when a number stands for an amount.
 */
#include "kg_quality_int.h"
#include "kg_array.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Numbers, amounts and dates in text                                 */
/* ------------------------------------------------------------------ */

/* Nominative, genitive and locative: "marzec", "1 marca", "w marcu". */
static const char *const month_forms[12][3] = {
	{"styczeń", "stycznia", "styczniu"},
	{"luty", "lutego", "lutym"},
	{"marzec", "marca", "marcu"},
	{"kwiecień", "kwietnia", "kwietniu"},
	{"maj", "maja", "maju"},
	{"czerwiec", "czerwca", "czerwcu"},
	{"lipiec", "lipca", "lipcu"},
	{"sierpień", "sierpnia", "sierpniu"},
	{"wrzesień", "września", "wrześniu"},
	{"październik", "października", "październiku"},
	{"listopad", "listopada", "listopadzie"},
	{"grudzień", "grudnia", "grudniu"},
};

/* "1,2 mln zł", "250 tys. zł", "2 miliony złotych". */
static const struct {
	const char *word;
	int prefix;		/* word only has to start with it */
	long long mult;
} multipliers[] = {
	{"tys", 0, 1000LL},
	{"tysi", 1, 1000LL},	/* tysiąc, tysiące, tysięcy */
	{"mln", 0, 1000000LL},
	{"milion", 1, 1000000LL},
	{"mld", 0, 1000000000LL},
	{"miliard", 1, 1000000000LL},
};

static const char *const currencies[] = {
	"zł", "zl", "pln", "złotych", "złote", "złoty", "zlotych",
};

static int
month_of(const char *w)
{
	int m, f;

	for (m = 0; m < 12; m++)
		for (f = 0; f < 3; f++)
			if (w[0] == month_forms[m][f][0] &&
			    !strcmp(w, month_forms[m][f]))
				return m + 1;
	return 0;
}

int
kg_quality_toks_push(struct qtoks *t, const struct qtok *tok)
{
	struct qtok *p;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		p = realloc(t->v, t->cap * sizeof(*p));
		if (!p)
			return -1;
		t->v = p;
	}
	t->v[t->n++] = *tok;
	return 0;
}

static size_t
digit_run(const char *s, size_t i, int *v)
{
	size_t n = 0;
	int x = 0;

	while (is_digit((unsigned char)s[i + n])) {
		if (n < 9)
			x = x * 10 + (s[i + n] - '0');
		n++;
	}
	if (v)
		*v = x;
	return n;
}

/* Bytes of a horizontal space at s + i (NBSP and friends included). */
static size_t
space_len(const char *s, size_t i)
{
	size_t j = i;
	uint32_t c;

	if (!s[i])
		return 0;
	c = utf8_next(s, &j);
	return kg_utf8_is_space(c) && c != '\n' && c != '\r' ? j - i : 0;
}

static size_t
skip_spaces(const char *s, size_t i)
{
	size_t n = space_len(s, i);

	while (n) {
		i += n;
		n = space_len(s, i);
	}
	return i;
}

static int
valid_date(int y, int m, int d)
{
	return (y == 0 || (y >= YEAR_MIN && y <= YEAR_MAX)) && m >= 1 &&
	       m <= 12 && d >= 1 && d <= 31;
}

static int
valid_year(int y)
{
	return y >= YEAR_MIN && y <= YEAR_MAX;
}

/* 2025-03-01 */
static size_t
scan_iso_date(const char *s, size_t i, struct qtok *tok)
{
	size_t j = i, n;

	if (digit_run(s, j, &tok->y) != 4 || s[j + 4] != '-')
		return 0;
	j += 5;
	n = digit_run(s, j, &tok->m);
	if (n < 1 || n > 2 || s[j + n] != '-')
		return 0;
	j += n + 1;
	n = digit_run(s, j, &tok->d);
	if (n < 1 || n > 2 || !valid_year(tok->y) ||
	    !valid_date(tok->y, tok->m, tok->d))
		return 0;
	tok->kind = TOK_DATE;
	return j + n;
}

/* 1.03.2025, 01/03/2025, 01-03-2025; 03.2025 (month + year) */
static size_t
scan_dmy_date(const char *s, size_t i, struct qtok *tok)
{
	size_t j = i, n;
	char sep;
	int a, b, y;

	n = digit_run(s, j, &a);
	if (n < 1 || n > 2)
		return 0;
	j += n;
	sep = s[j];
	if (sep != '.' && sep != '/' && sep != '-')
		return 0;
	j++;
	n = digit_run(s, j, &b);
	if (n == 4 && sep != '-' && a >= 1 && a <= 12 && valid_year(b)) {
		tok->kind = TOK_MONTH;
		tok->y = b;
		tok->m = a;
		return j + n;
	}
	if (n < 1 || n > 2 || s[j + n] != sep)
		return 0;
	j += n + 1;
	if (digit_run(s, j, &y) != 4 || !valid_date(y, b, a) || y == 0)
		return 0;
	tok->kind = TOK_DATE;
	tok->y = y;
	tok->m = b;
	tok->d = a;
	return j + 4;
}

/* At s + i: optional spaces, a month name, optionally spaces and a
 * year.  Sets m (and y, 0 when absent); returns the end or 0. */
static size_t
scan_month_name(const char *s, size_t i, int *m, int *y)
{
	char w[WORD_MAX];
	size_t j = skip_spaces(s, i), k, n;
	int year;

	if (!s[j] || !is_letter(cp_at(s, j)))
		return 0;
	kg_quality_read_word(s, &j, w, sizeof(w));
	*m = month_of(w);
	if (!*m)
		return 0;
	*y = 0;
	k = skip_spaces(s, j);
	n = digit_run(s, k, &year);
	if (n == 4 && valid_year(year) && !is_letter(cp_at(s, k + n))) {
		*y = year;
		return k + n;
	}
	return j;
}

/* After a number: a multiplier word ("mln"), a currency ("zł") or a
 * per cent sign belong to it (for display, and the multiplier to its
 * value).  Returns the end of the whole amount. */
static size_t
scan_amount_suffix(const char *s, size_t j, long long *mult)
{
	char w[WORD_MAX];
	size_t k, e;
	size_t m;

	*mult = 1;
	k = skip_spaces(s, j);
	if (s[k] && is_letter(cp_at(s, k))) {
		e = k;
		kg_quality_read_word(s, &e, w, sizeof(w));
		for (m = 0; m < KG_COUNT(multipliers); m++) {
			if (multipliers[m].prefix ?
			    !strncmp(w, multipliers[m].word,
				     strlen(multipliers[m].word)) :
			    !strcmp(w, multipliers[m].word)) {
				*mult = multipliers[m].mult;
				j = e + (s[e] == '.');
				k = skip_spaces(s, j);
				break;
			}
		}
	}
	if (s[k] && is_letter(cp_at(s, k))) {
		e = k;
		kg_quality_read_word(s, &e, w, sizeof(w));
		if (in_list(w, currencies, KG_COUNT(currencies)))
			return e;
	}
	if (s[k] == '%')
		return k + 1;
	return j;
}

/*
 * A number at s + i in Polish or plain spelling: "1234567",
 * "1 234 567" (space, NBSP or thin-space groups), "1.234.567",
 * decimals after a comma ("1 234 567,00", "1,2") or, without dot
 * groups, after a dot with one or two digits ("1234567.50").
 * Groups after the first must be exactly three digits, so "2025 150"
 * stays two numbers.
 */
static size_t
scan_number(const char *s, size_t i, struct qtok *tok)
{
	long long mant = 0, mult, scale = 100, pw = 1;
	size_t j = i, n, sl, k;
	int ndig, dec = 0, grouped = 0, v, y, m;
	char gsep = 0, w[WORD_MAX];

	ndig = (int)digit_run(s, j, NULL);
	for (k = 0; k < (size_t)ndig && k < 16; k++)
		mant = mant * 10 + (s[j + k] - '0');
	j += (size_t)ndig;
	/* thousands groups only after a short first group: "1 234 567" */
	while (ndig <= 3 || (grouped && ndig <= 15)) {
		char cls = s[j] == '.' ? '.' : ' ';

		sl = s[j] == '.' ? 1 : space_len(s, j);
		if (!sl || digit_run(s, j + sl, &v) != 3 ||
		    (gsep && cls != gsep))
			break;
		gsep = cls;
		grouped = 1;
		mant = mant * 1000 + v;
		ndig += 3;
		j += sl + 3;
	}
	if (ndig > 15) {
		tok->kind = TOK_SKIP;	/* an id or account number */
		return j + digit_run(s, j, NULL);
	}
	n = s[j] == '.' && gsep != '.' ? digit_run(s, j + 1, NULL) : 0;
	if ((s[j] == ',' && is_digit((unsigned char)s[j + 1])) ||
	    (n >= 1 && n <= 2)) {
		n = digit_run(s, ++j, NULL);
		for (k = 0; k < n && k < 2; k++, dec++)
			mant = mant * 10 + (s[j + k] - '0');
		j += n;
	}
	if (s[j] && is_letter(cp_at(s, j))) {
		/* "3D", "5G", "2x": a label, not a quantity */
		tok->kind = TOK_SKIP;
		kg_quality_read_word(s, &j, w, sizeof(w));
		return j;
	}
	n = 0;
	if (!grouped && !dec && ndig <= 2 && mant >= 1 && mant <= 31)
		n = scan_month_name(s, j, &m, &y);
	if (n) {
		tok->kind = TOK_DATE;	/* "1 marca 2025", "15 marca" */
		tok->d = (int)mant;
		tok->m = m;
		tok->y = y;
		return n;
	}
	j = scan_amount_suffix(s, j, &mult);
	while (dec-- > 0)
		pw *= 10;
	if (mant > LLONG_MAX / (mult * scale)) {
		tok->kind = TOK_SKIP;
		return j;
	}
	tok->kind = TOK_NUMBER;
	tok->cents = mant * mult * scale / pw;
	tok->tol = mult > 1 ? mult * scale / pw : 0;
	return j;
}

static size_t
scan_value(const char *s, size_t i, struct qtok *tok)
{
	size_t end;

	memset(tok, 0, sizeof(*tok));
	tok->off = i;
	end = scan_iso_date(s, i, tok);
	if (!end)
		end = scan_dmy_date(s, i, tok);
	if (!end)
		end = scan_number(s, i, tok);
	tok->len = end - i;
	return end;
}

/*
 * Every number, amount and date in s, in order.  Digits glued to a
 * letter on the left ("COVID-19", "PM2,5", "etap1") belong to a name
 * and are skipped together with it.
 */
int
kg_quality_toks_scan(struct qtoks *t, const char *s)
{
	struct qtok tok;
	uint32_t c, prev = ' ', prev2 = ' ';
	size_t i = 0, j;
	char w[WORD_MAX];

	while (s[i]) {
		j = i;
		c = utf8_next(s, &j);
		if (is_digit(c) && !is_letter(prev) &&
		    !(prev == '-' && is_letter(prev2))) {
			i = scan_value(s, i, &tok);
			if (tok.kind != TOK_SKIP &&
			    kg_quality_toks_push(t, &tok) < 0)
				return -1;
			prev = prev2 = '0';
			continue;
		}
		if (!is_word_cp(c)) {
			prev2 = prev;
			prev = c;
			i = j;
			continue;
		}
		/* a word: maybe a month + year ("marzec 2025") */
		memset(&tok, 0, sizeof(tok));
		tok.off = i;
		j = scan_month_name(s, i, &tok.m, &tok.y);
		if (j && tok.y) {
			tok.kind = TOK_MONTH;
			tok.len = j - i;
			if (kg_quality_toks_push(t, &tok) < 0)
				return -1;
			i = j;
			prev = prev2 = '0';
			continue;
		}
		kg_quality_read_word(s, &i, w, sizeof(w));
		prev = prev2 = 'a';
	}
	return 0;
}

int
kg_quality_iso_date(const char *s, struct qtok *d)
{
	size_t end;

	memset(d, 0, sizeof(*d));
	end = s ? scan_iso_date(s, 0, d) : 0;
	if (!end || s[end]) {
		memset(d, 0, sizeof(*d));
		return 0;
	}
	return 1;
}

int
kg_quality_num_matches(const struct qtok *t, long long cents)
{
	long long diff = t->cents - cents;

	if (diff < 0)
		diff = -diff;
	return t->tol ? 2 * diff <= t->tol : diff == 0;
}
