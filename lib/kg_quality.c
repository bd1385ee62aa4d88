/*
 * kg_quality - see kg_quality.h for the criteria and their formulas.
 *
 * Layout: UTF-8 and case folding, word lists, the number/date scanner,
 * the facts taken from the input, then one function per criterion and
 * the JSON assembly.  Word lists, markers and weights are tables at the
 * top of each part so the rules can be read (and changed) as data.
 */
#include "kg_quality.h"
#include "kg_array.h"
#include "kg_utf8.h"
#include "kg_buf.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WORD_MAX 64		/* longer words are truncated when folded */
#define VALUE_SHOW_MAX 48	/* bytes of an unsupported value echoed */
#define YEAR_MIN 1900
#define YEAR_MAX 2100

/* ------------------------------------------------------------------ */
/* UTF-8 and case folding                                             */
/* ------------------------------------------------------------------ */

/* Polish letters outside ASCII: case pairs, and the base letter that
 * stem matching compares (Latin-1, e.g. Ó, is lowered by its +0x20
 * rule). */
static const struct {
	uint32_t upper, lower, base;
} pl_letters[] = {
	{0x104, 0x105, 'a'}, {0x106, 0x107, 'c'}, {0x118, 0x119, 'e'},
	{0x141, 0x142, 'l'}, {0x143, 0x144, 'n'}, {0xD3, 0xF3, 'o'},
	{0x15A, 0x15B, 's'}, {0x179, 0x17A, 'z'}, {0x17B, 0x17C, 'z'},
};

/*
 * Decode one code point at s + *i and advance *i.  A malformed byte
 * decodes as U+FFFD and advances by one, so scanning never stalls and
 * never reads past the terminating NUL (NUL is not a continuation byte).
 */
static uint32_t
utf8_next(const char *s, size_t *i)
{
	uint32_t c;
	size_t n = kg_utf8_decode((const unsigned char *)s + *i, 4, &c);

	*i += n ? n : 1;
	return n ? c : 0xFFFD;
}

/* Locale-independent lower case: tolower() would depend on setlocale()
 * and never sees a multi-byte Ł anyway. */
static uint32_t
cp_lower(uint32_t c)
{
	size_t k;

	if (c >= 'A' && c <= 'Z')
		return c + ('a' - 'A');
	if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
		return c + 0x20;
	for (k = 0; k < KG_COUNT(pl_letters); k++)
		if (pl_letters[k].upper == c)
			return pl_letters[k].lower;
	return c;
}

static int
is_pl_diacritic(uint32_t c)
{
	size_t k;

	for (k = 0; k < KG_COUNT(pl_letters); k++)
		if (pl_letters[k].lower == c || pl_letters[k].upper == c)
			return 1;
	return 0;
}

/* ą -> a ... ż -> z on lower-case letters: Polish stems alternate
 * ó/o ("szkół", "szkoła"), which stem matching must not notice. */
static uint32_t
cp_base(uint32_t c)
{
	size_t k;

	for (k = 0; k < KG_COUNT(pl_letters); k++)
		if (pl_letters[k].lower == c)
			return pl_letters[k].base;
	return c;
}

static int
is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

/* Letters and digits.  Everything from U+00C0 up counts as a letter
 * except the punctuation and symbol blocks, so Polish, German or Czech
 * names are words without a Unicode table. */
static int
is_word_cp(uint32_t c)
{
	if (c < 0x80)
		return is_digit(c) || (c >= 'a' && c <= 'z') ||
		       (c >= 'A' && c <= 'Z');
	if (c < 0xC0 || c == 0xD7 || c == 0xF7)
		return 0;
	if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
	    (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF || c == 0xFFFD)
		return 0;
	return 1;
}

static int
is_letter(uint32_t c)
{
	return is_word_cp(c) && !is_digit(c);
}

static uint32_t
cp_at(const char *s, size_t i)
{
	return utf8_next(s, &i);
}

/* Lower-case copy of s, for substring checks. */
static int
fold_text(struct kg_buf *out, const char *s)
{
	char enc[4];
	size_t i = 0;

	while (s[i]) {
		uint32_t c = cp_lower(utf8_next(s, &i));

		if (kg_buf_append(out, enc, kg_utf8_encode(c, enc)) < 0)
			return -1;
	}
	return 0;
}

/*
 * Read the run of word characters at s + *i (which must start one),
 * lower-cased into w (truncated at a code point to fit wsz), and move
 * *i past the whole run.
 */
static void
read_word(const char *s, size_t *i, char *w, size_t wsz)
{
	size_t n = 0, j;
	uint32_t c;

	for (;;) {
		j = *i;
		if (!s[j])
			break;
		c = utf8_next(s, &j);
		if (!is_word_cp(c))
			break;
		*i = j;
		c = cp_lower(c);
		if (n + 4 < wsz)
			n += kg_utf8_encode(c, w + n);
	}
	w[n] = '\0';
}

/* Skip to the next word; 0 when there is none. */
static int
next_word(const char *s, size_t *i, char *w, size_t wsz)
{
	size_t j;

	while (s[*i]) {
		j = *i;
		if (is_word_cp(utf8_next(s, &j))) {
			read_word(s, i, w, wsz);
			return 1;
		}
		*i = j;
	}
	return 0;
}

static int
in_list(const char *w, const char *const *list, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (!strcmp(w, list[k]))
			return 1;
	return 0;
}

int
kg_quality_word_count(const char *text)
{
	size_t i = 0;
	int n = 0, has = 0;
	uint32_t c;

	if (!text)
		return 0;
	while (text[i]) {
		c = utf8_next(text, &i);
		if (kg_utf8_is_space(c)) {
			n += has;
			has = 0;
		} else if (is_word_cp(c)) {
			has = 1;
		}
	}
	return n + has;
}

/* ------------------------------------------------------------------ */
/* Word lists and inflection-tolerant matching                        */
/* ------------------------------------------------------------------ */

/* Polish function words: not "significant" in a target group, and
 * evidence of Polish in the language check. */
static const char *const pl_stopwords[] = {
	"i", "w", "z", "na", "do", "się", "nie", "oraz", "jest", "że",
	"dla", "to", "o", "od", "po", "przez", "które", "który", "która",
	"których", "jak", "lub", "a", "ich", "jego", "jej", "będzie",
	"będą", "są", "przy", "ze", "we", "tym", "tego", "ten", "ta",
	"także", "również", "czy", "co", "tak", "już", "albo", "oraz",
	"osób", "osoby", "wraz", "wśród", "około", "ponad",
};

struct wordlist {
	struct kg_buf buf;	/* "w1\0w2\0...", lower-cased */
	size_t *off;
	size_t n, cap;
};

static const char *
word_at(const struct wordlist *wl, size_t k)
{
	return wl->buf.data + wl->off[k];
}

static int
words_add(struct wordlist *wl, const char *w)
{
	size_t *p;

	if (wl->n == wl->cap) {
		wl->cap = wl->cap ? wl->cap * 2 : 32;
		p = realloc(wl->off, wl->cap * sizeof(*p));
		if (!p)
			return -1;
		wl->off = p;
	}
	wl->off[wl->n++] = wl->buf.len;
	return kg_buf_append(&wl->buf, w, strlen(w) + 1);
}

static int
words_build(struct wordlist *wl, const char *s)
{
	char w[WORD_MAX];
	size_t i = 0;

	while (next_word(s, &i, w, sizeof(w)))
		if (words_add(wl, w) < 0)
			return -1;
	return 0;
}

/* Words of a target group that carry meaning (4+ letters, no stop
 * words): "osoby w wieku 60+" must not be covered by any "w". */
static int
words_build_significant(struct wordlist *wl, const char *s)
{
	char w[WORD_MAX];
	size_t i = 0;

	while (next_word(s, &i, w, sizeof(w))) {
		if (kg_utf8_chars(w) < 4 ||
		    in_list(w, pl_stopwords, KG_COUNT(pl_stopwords)))
			continue;
		if (words_add(wl, w) < 0)
			return -1;
	}
	return 0;
}

static void
words_free(struct wordlist *wl)
{
	kg_buf_free(&wl->buf);
	free(wl->off);
	memset(wl, 0, sizeof(*wl));
}

/*
 * Does text word h stand for input word n?  Polish declines names and
 * groups ("Fundacja Zielony Dom" -> "Fundacji Zielony Dom", "uczniowie
 * szkół podstawowych" -> "uczniów szkoły podstawowej"), so a word of 4+
 * letters matches when h starts with all of n but its last three
 * letters (at least four kept), ignoring Polish diacritics.  Short words
 * and numbers must be equal, else "w" or "12" would match almost
 * anything.
 */
static int
word_matches(const char *n, const char *h)
{
	size_t ncp = kg_utf8_chars(n), keep, k, i = 0, j = 0;

	if (ncp <= 3 || is_digit((unsigned char)n[0]))
		return !strcmp(n, h);
	keep = ncp < 7 ? 4 : ncp - 3;
	for (k = 0; k < keep; k++)
		if (!h[j] ||
		    cp_base(utf8_next(n, &i)) != cp_base(utf8_next(h, &j)))
			return 0;
	return 1;
}

/* Does `hay` contain all of `needle`'s words, consecutively? */
static int
words_contain_seq(const struct wordlist *hay, const struct wordlist *needle)
{
	size_t i, k;

	if (!needle->n)
		return 0;
	for (i = 0; i + needle->n <= hay->n; i++) {
		for (k = 0; k < needle->n; k++)
			if (!word_matches(word_at(needle, k),
					  word_at(hay, i + k)))
				break;
		if (k == needle->n)
			return 1;
	}
	return 0;
}

static int
words_contain(const struct wordlist *hay, const char *w)
{
	size_t i;

	for (i = 0; i < hay->n; i++)
		if (word_matches(w, word_at(hay, i)))
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Numbers, amounts and dates in text                                 */
/* ------------------------------------------------------------------ */

enum { TOK_SKIP = -1, TOK_NUMBER, TOK_DATE, TOK_MONTH };

struct qtok {
	int kind;
	long long cents;	/* TOK_NUMBER: value * 100 */
	long long tol;		/* abbreviated amount: unit * 100; else 0 */
	int y, m, d;		/* TOK_DATE (y 0: no year), TOK_MONTH (y, m) */
	size_t off, len;	/* where it is written */
};

struct qtoks {
	struct qtok *v;
	size_t n, cap;
};

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
			if (!strcmp(w, month_forms[m][f]))
				return m + 1;
	return 0;
}

static int
toks_push(struct qtoks *t, const struct qtok *tok)
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
	read_word(s, &j, w, sizeof(w));
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
		read_word(s, &e, w, sizeof(w));
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
		read_word(s, &e, w, sizeof(w));
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
		read_word(s, &j, w, sizeof(w));
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
static int
toks_scan(struct qtoks *t, const char *s)
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
			if (tok.kind != TOK_SKIP && toks_push(t, &tok) < 0)
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
			if (toks_push(t, &tok) < 0)
				return -1;
			i = j;
			prev = prev2 = '0';
			continue;
		}
		read_word(s, &i, w, sizeof(w));
		prev = prev2 = 'a';
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Facts of the input                                                 */
/* ------------------------------------------------------------------ */

struct qfacts {
	struct qtoks toks;	/* every number and date of every field */
	long long budget;	/* * 100; 0 = none */
	struct qtok start, end;	/* TOK_DATE; y 0 = none */
	struct qtok lo, hi;	/* start and end in order; both or neither */
	int ymin, ymax;		/* years of start..end; 0 = none */
	int months;		/* calendar months start..end inclusive */
	struct wordlist name, org, target;
};

static int
date_cmp(int y1, int m1, int d1, int y2, int m2, int d2)
{
	long a = (long)y1 * 10000 + m1 * 100 + d1;
	long b = (long)y2 * 10000 + m2 * 100 + d2;

	return a < b ? -1 : a > b;
}

static int
parse_iso(const char *s, struct qtok *d)
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

static int
facts_scan(struct qfacts *f, const cJSON *v, int depth)
{
	const cJSON *c;
	struct qtok tok;

	if (cJSON_IsString(v))
		return toks_scan(&f->toks, v->valuestring);
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
	    v->valuedouble < 1e13) {
		memset(&tok, 0, sizeof(tok));
		tok.kind = TOK_NUMBER;
		tok.cents = (long long)(v->valuedouble * 100 + 0.5);
		return toks_push(&f->toks, &tok);
	}
	if ((cJSON_IsArray(v) || cJSON_IsObject(v)) && depth < 4)
		cJSON_ArrayForEach(c, v)
			if (facts_scan(f, c, depth + 1) < 0)
				return -1;
	return 0;
}

static const char *
input_str(const cJSON *input, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(input, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* budget is a number in the normalised row; a text is tolerated. */
static long long
input_budget(const cJSON *input)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(input, "budget");
	struct qtoks t = {0};
	long long cents = 0;
	size_t k;

	if (cJSON_IsNumber(v))
		return v->valuedouble > 0 && v->valuedouble < 1e13 ?
		       (long long)(v->valuedouble * 100 + 0.5) : 0;
	if (!cJSON_IsString(v) || toks_scan(&t, v->valuestring) < 0)
		goto out;
	for (k = 0; k < t.n && !cents; k++)
		if (t.v[k].kind == TOK_NUMBER)
			cents = t.v[k].cents;
out:
	free(t.v);
	return cents;
}

static void
facts_dates(struct qfacts *f, const cJSON *input)
{
	const struct qtok *a = &f->start, *b = &f->end;

	parse_iso(input_str(input, "start_date"), &f->start);
	parse_iso(input_str(input, "end_date"), &f->end);
	if (a->y && b->y && date_cmp(a->y, a->m, a->d, b->y, b->m, b->d) > 0)
		a = &f->end, b = &f->start;	/* swapped in the sheet */
	if (!a->y)
		a = b;
	if (!b->y)
		b = a;
	if (!a->y)
		return;
	f->ymin = a->y;
	f->ymax = b->y;
	if (a == b)
		return;
	f->lo = *a;
	f->hi = *b;
	f->months = (b->y * 12 + b->m) - (a->y * 12 + a->m) + 1;
}

static int
facts_load(struct qfacts *f, const cJSON *input)
{
	const char *name = input_str(input, "name");
	const char *org = input_str(input, "organization");
	const char *target = input_str(input, "target_group");

	if (!cJSON_IsObject(input))
		return 0;
	if (facts_scan(f, input, 0) < 0)
		return -1;
	f->budget = input_budget(input);
	facts_dates(f, input);
	if ((name && words_build(&f->name, name) < 0) ||
	    (org && words_build(&f->org, org) < 0) ||
	    (target && words_build_significant(&f->target, target) < 0))
		return -1;
	return 0;
}

static void
facts_free(struct qfacts *f)
{
	free(f->toks.v);
	words_free(&f->name);
	words_free(&f->org);
	words_free(&f->target);
}

/* ------------------------------------------------------------------ */
/* Is a value of the text supported by the input?                     */
/* ------------------------------------------------------------------ */

static int
num_matches(const struct qtok *t, long long cents)
{
	long long diff = t->cents - cents;

	if (diff < 0)
		diff = -diff;

	return t->tol ? 2 * diff <= t->tol : diff == 0;
}

static int
has_range(const struct qfacts *f)
{
	return f->lo.y != 0;
}

static int
in_range(const struct qfacts *f, int y, int m, int d)
{
	return has_range(f) &&
	       date_cmp(y, m, d, f->lo.y, f->lo.m, f->lo.d) >= 0 &&
	       date_cmp(y, m, d, f->hi.y, f->hi.m, f->hi.d) <= 0;
}

static int
year_supported(const struct qfacts *f, long long y)
{
	size_t k;

	if (f->ymin && y >= f->ymin && y <= f->ymax)
		return 1;
	for (k = 0; k < f->toks.n; k++)
		if (f->toks.v[k].kind != TOK_NUMBER && f->toks.v[k].y == y)
			return 1;
	return 0;
}

static int
number_supported(const struct qfacts *f, const struct qtok *t)
{
	long long v = t->cents / 100;
	size_t k;

	if (t->cents <= 1000)
		return 1;
	for (k = 0; k < f->toks.n; k++)
		if (f->toks.v[k].kind == TOK_NUMBER &&
		    num_matches(t, f->toks.v[k].cents))
			return 1;
	if (t->tol || t->cents % 100)
		return 0;
	return (v >= YEAR_MIN && v <= YEAR_MAX && year_supported(f, v)) ||
	       (f->months && v == f->months);
}

static int
date_supported(const struct qfacts *f, const struct qtok *t)
{
	const struct qtok *u;
	size_t k;
	int y;

	for (k = 0; k < f->toks.n; k++) {
		u = &f->toks.v[k];
		if (u->kind == TOK_DATE && u->m == t->m && u->d == t->d &&
		    (!t->y || u->y == t->y))
			return 1;
	}
	if (t->y)
		return in_range(f, t->y, t->m, t->d);
	for (y = f->ymin; y && y <= f->ymax; y++)
		if (in_range(f, y, t->m, t->d))
			return 1;
	return 0;
}

static int
month_supported(const struct qfacts *f, const struct qtok *t)
{
	const struct qtok *u;
	size_t k;
	int here, lo, hi;

	for (k = 0; k < f->toks.n; k++) {
		u = &f->toks.v[k];
		if (u->kind != TOK_NUMBER && u->y == t->y && u->m == t->m)
			return 1;
	}
	if (!has_range(f))
		return 0;
	here = t->y * 12 + t->m;
	lo = f->lo.y * 12 + f->lo.m;
	hi = f->hi.y * 12 + f->hi.m;
	return here >= lo && here <= hi;
}

static int
tok_supported(const struct qfacts *f, const struct qtok *t)
{
	switch (t->kind) {
	case TOK_NUMBER:
		return number_supported(f, t);
	case TOK_DATE:
		return date_supported(f, t);
	default:
		return month_supported(f, t);
	}
}

/* ------------------------------------------------------------------ */
/* Sections and their flags                                           */
/* ------------------------------------------------------------------ */

enum {
	F_EMPTY = 1 << 0,
	F_TOO_SHORT = 1 << 1,
	F_TOO_LONG = 1 << 2,
	F_MISSING_FACT = 1 << 3,
	F_UNSUPPORTED = 1 << 4,
	F_ENGLISH = 1 << 5,
	F_PLACEHOLDER = 1 << 6,
	F_MARKDOWN = 1 << 7,
};

/* Output names, in bit order (the order flags are listed in). */
static const char *const flag_names[] = {
	"empty", "too_short", "too_long", "missing_fact",
	"unsupported_number", "english", "placeholder", "markdown",
};

struct qsec {
	const struct kg_section_def *def;
	const char *body;	/* "" when the card has no such section */
	int reviewed;
	int nonempty;
	int nwords;
	unsigned flags;
	struct wordlist words;
	struct qtoks toks;
	struct kg_buf lower;	/* body lower-cased */
};

static int
sec_load(struct qsec *sec, const struct kg_section_def *def,
	 const struct kg_quality_section *sections, size_t nsections)
{
	size_t k;

	sec->def = def;
	sec->body = "";
	for (k = 0; k < nsections; k++) {
		if (sections[k].key && def->key &&
		    !strcmp(sections[k].key, def->key)) {
			sec->body = sections[k].body ? sections[k].body : "";
			sec->reviewed = sections[k].reviewed != 0;
			break;
		}
	}
	sec->nwords = kg_quality_word_count(sec->body);
	if (words_build(&sec->words, sec->body) < 0 ||
	    toks_scan(&sec->toks, sec->body) < 0 ||
	    fold_text(&sec->lower, sec->body) < 0)
		return -1;
	sec->nonempty = sec->words.n > 0;
	return 0;
}

static void
sec_free(struct qsec *sec)
{
	words_free(&sec->words);
	free(sec->toks.v);
	kg_buf_free(&sec->lower);
}

/* ------------------------------------------------------------------ */
/* Language checks                                                    */
/* ------------------------------------------------------------------ */

/* Words that do not occur in Polish text ("to", "a", "i", "we", "by",
 * "was", "on", "no" are Polish words and are left out on purpose). */
static const char *const en_stopwords[] = {
	"the", "and", "of", "with", "project", "is", "are", "for", "this",
	"that", "will", "be", "from", "which", "our", "their", "has",
	"have", "an", "were", "these", "its", "it", "or", "not", "can",
	"should", "would", "into", "about", "also", "such", "at", "all",
	"been", "in", "who", "what", "how", "more", "your", "you",
};

static const char *const placeholder_marks[] = {
	"[...]", "[…]", "(...)", "(…)", "{{", "}}", "lorem ipsum",
	"do uzupełnienia",
};

static const char *const placeholder_words[] = {
	"todo", "tbd", "fixme", "xxx",
};

static const char *const markdown_marks[] = {
	"**", "__", "```", "](", "|---", "|:--",
};

#define SENTENCE_ENDS ".!?;:\n"

/* One sentence is English when it has 2+ English stop words and more
 * of them than Polish evidence; one such sentence flags the section. */
static int
lang_english(const char *s)
{
	char w[WORD_MAX];
	size_t i = 0;
	int en = 0, pl = 0;
	uint32_t c;

	for (;;) {
		size_t j = i;

		c = s[i] ? utf8_next(s, &j) : 0;
		if (c && is_word_cp(c)) {
			size_t k = 0;
			int dia = 0;

			read_word(s, &i, w, sizeof(w));
			while (w[k])
				dia |= is_pl_diacritic(utf8_next(w, &k));
			if (in_list(w, en_stopwords, KG_COUNT(en_stopwords)))
				en++;
			else if (dia ||
				 in_list(w, pl_stopwords, KG_COUNT(pl_stopwords)))
				pl++;
			continue;
		}
		if (!c || (c < 0x80 && strchr(SENTENCE_ENDS, (int)c))) {
			if (en >= 2 && en > pl)
				return 1;
			en = pl = 0;
		}
		if (!c)
			return 0;
		i = j;
	}
}

/* "[nazwa]", "<nazwa organizacji>": a bracketed label on one line.
 * "[1]" (digits only) is a citation and is accepted. */
static int
bracket_label(const char *s)
{
	const char *p, *q;
	int letters;

	for (p = s; *p; p++) {
		char close = *p == '[' ? ']' : *p == '<' ? '>' : 0;

		if (!close || (close == '>' && !is_letter(cp_at(p, 1))))
			continue;
		letters = 0;
		for (q = p + 1; *q && *q != close && *q != '\n' && *q != *p &&
		     q - p < 80; q++)
			letters |= is_letter((unsigned char)*q) ||
				   (unsigned char)*q >= 0xC0;
		if (*q == close && letters)
			return 1;
	}
	return 0;
}

static int
lang_placeholder(const struct qsec *sec)
{
	const char *low = kg_buf_str(&sec->lower);
	size_t k;

	for (k = 0; k < KG_COUNT(placeholder_marks); k++)
		if (strstr(low, placeholder_marks[k]))
			return 1;
	for (k = 0; k < sec->words.n; k++)
		if (in_list(word_at(&sec->words, k), placeholder_words,
			    KG_COUNT(placeholder_words)))
			return 1;
	return bracket_label(sec->body);
}

static int
lang_markdown(const char *s)
{
	const char *p;
	size_t k;

	for (k = 0; k < KG_COUNT(markdown_marks); k++)
		if (strstr(s, markdown_marks[k]))
			return 1;
	for (p = s; p; p = strchr(p, '\n')) {
		p += *p == '\n';
		p += strspn(p, " \t");
		if (p[0] == '#' && (p[1] == '#' || p[1] == ' '))
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Criteria                                                           */
/* ------------------------------------------------------------------ */

struct qctx {
	struct qfacts facts;
	struct qsec *sec;
	size_t nsec;
	cJSON *missing;		/* "missing_facts" */
};

struct qcrit {
	int passed, total;
	int full_if_none;	/* total 0 scores max, not 0 */
	struct kg_buf detail;
	cJSON *extra;		/* added to the criterion object, or NULL */
	const char *extra_name;
};

/* "; label: key1, key2" for the sections carrying `flag`. */
static int
detail_flagged(const struct qctx *q, struct kg_buf *b, unsigned flag,
	       const char *label)
{
	const char *sep = "; ";
	size_t k;
	int rc = 0;

	for (k = 0; k < q->nsec && rc == 0; k++) {
		if (!(q->sec[k].flags & flag))
			continue;
		rc = kg_buf_printf(b, "%s%s%s", sep,
				   sep[0] == ';' ? label : "",
				   q->sec[k].def->key);
		sep = ", ";
	}
	return rc;
}

static int
crit_completeness(struct qctx *q, struct qcrit *c)
{
	size_t k;

	for (k = 0; k < q->nsec; k++) {
		c->total++;
		if (q->sec[k].nonempty)
			c->passed++;
		else
			q->sec[k].flags |= F_EMPTY;
	}
	if (kg_buf_printf(&c->detail, "sekcje uzupełnione: %d z %d",
			  c->passed, c->total) < 0)
		return -1;
	return detail_flagged(q, &c->detail, F_EMPTY, "puste: ");
}

static int
crit_length(struct qctx *q, struct qcrit *c)
{
	const char *label;
	struct qsec *s;
	size_t k;

	for (k = 0; k < q->nsec; k++) {
		s = &q->sec[k];
		c->total++;
		if (!s->nonempty)
			continue;
		if (s->nwords < s->def->min_words)
			s->flags |= F_TOO_SHORT;
		else if (s->nwords > s->def->max_words)
			s->flags |= F_TOO_LONG;
		else
			c->passed++;
	}
	if (kg_buf_printf(&c->detail, "sekcje w limicie słów: %d z %d",
			  c->passed, c->total) < 0)
		return -1;
	for (k = 0; k < q->nsec; k++) {
		s = &q->sec[k];
		if (!(s->flags & (F_TOO_SHORT | F_TOO_LONG)))
			continue;
		label = s->flags & F_TOO_SHORT ? "za krótka" : "za długa";
		if (kg_buf_printf(&c->detail, "; %s: %s (%d sł., %d–%d)",
				  label, s->def->key, s->nwords,
				  s->def->min_words, s->def->max_words) < 0)
			return -1;
	}
	return 0;
}

/* Coverage: one predicate per fact, and where the fact belongs. */
static int
has_name(const struct qfacts *f)
{
	return f->name.n > 0;
}

static int
has_org(const struct qfacts *f)
{
	return f->org.n > 0;
}

static int
has_budget(const struct qfacts *f)
{
	return f->budget > 0;
}

static int
has_start(const struct qfacts *f)
{
	return f->start.y != 0;
}

static int
has_end(const struct qfacts *f)
{
	return f->end.y != 0;
}

static int
has_target(const struct qfacts *f)
{
	return f->target.n > 0;
}

static int
found_name(const struct qfacts *f, const struct qsec *s)
{
	return words_contain_seq(&s->words, &f->name);
}

static int
found_org(const struct qfacts *f, const struct qsec *s)
{
	return words_contain_seq(&s->words, &f->org);
}

static int
found_budget(const struct qfacts *f, const struct qsec *s)
{
	size_t k;

	for (k = 0; k < s->toks.n; k++)
		if (s->toks.v[k].kind == TOK_NUMBER &&
		    num_matches(&s->toks.v[k], f->budget))
			return 1;
	return 0;
}

static int
found_date(const struct qtok *d, const struct qsec *s)
{
	const struct qtok *t;
	size_t k;

	for (k = 0; k < s->toks.n; k++) {
		t = &s->toks.v[k];
		if (t->y == d->y && t->m == d->m &&
		    ((t->kind == TOK_DATE && t->d == d->d) ||
		     t->kind == TOK_MONTH))
			return 1;
	}
	return 0;
}

static int
found_start(const struct qfacts *f, const struct qsec *s)
{
	return found_date(&f->start, s);
}

static int
found_end(const struct qfacts *f, const struct qsec *s)
{
	return found_date(&f->end, s);
}

static int
found_target(const struct qfacts *f, const struct qsec *s)
{
	size_t k, hits = 0;

	for (k = 0; k < f->target.n; k++)
		hits += words_contain(&s->words, word_at(&f->target, k));
	return hits * 2 >= f->target.n;
}

static const struct fact_def {
	const char *key;	/* input key; name in "missing_facts" */
	const char *section;	/* the section expected to state it */
	int (*present)(const struct qfacts *);
	int (*found)(const struct qfacts *, const struct qsec *);
} fact_defs[] = {
	{"name", "summary", has_name, found_name},
	{"organization", "summary", has_org, found_org},
	{"budget", "budget", has_budget, found_budget},
	{"start_date", "schedule", has_start, found_start},
	{"end_date", "schedule", has_end, found_end},
	{"target_group", "target_group", has_target, found_target},
};

static struct qsec *
find_sec(struct qctx *q, const char *key)
{
	size_t k;

	for (k = 0; k < q->nsec; k++)
		if (q->sec[k].def->key && !strcmp(q->sec[k].def->key, key))
			return &q->sec[k];
	return NULL;
}

/* 2 = in its expected section, 1 = only elsewhere, 0 = nowhere. */
static int
fact_credit(struct qctx *q, const struct fact_def *fd, struct qsec *exp)
{
	size_t k;

	if (exp && fd->found(&q->facts, exp))
		return 2;
	for (k = 0; k < q->nsec; k++)
		if (&q->sec[k] != exp && fd->found(&q->facts, &q->sec[k]))
			return exp ? 1 : 2;
	return 0;
}

/* "a, b" lists for the detail text */
static int
list_add(struct kg_buf *list, const char *key)
{
	return kg_buf_printf(list, "%s%s", list->len ? ", " : "", key);
}

static int
coverage_detail(struct qcrit *c, int full, const struct kg_buf *elsewhere,
		const struct kg_buf *absent)
{
	if (!c->total)
		return kg_buf_puts(&c->detail, "brak faktów do sprawdzenia "
				   "w danych wejściowych");
	if (kg_buf_printf(&c->detail, "fakty w oczekiwanych sekcjach: "
			  "%d z %d", full, c->total / 2) < 0)
		return -1;
	if (elsewhere->len &&
	    kg_buf_printf(&c->detail, "; tylko w innych sekcjach: %s",
			  kg_buf_str(elsewhere)) < 0)
		return -1;
	if (absent->len &&
	    kg_buf_printf(&c->detail, "; brak: %s", kg_buf_str(absent)) < 0)
		return -1;
	return 0;
}

static int
crit_coverage(struct qctx *q, struct qcrit *c)
{
	struct kg_buf elsewhere = {0}, absent = {0};
	const struct fact_def *fd;
	struct qsec *exp;
	size_t k;
	int credit, full = 0, rc = -1;

	c->full_if_none = 1;
	for (k = 0; k < KG_COUNT(fact_defs); k++) {
		fd = &fact_defs[k];
		if (!fd->present(&q->facts))
			continue;
		exp = find_sec(q, fd->section);
		credit = fact_credit(q, fd, exp);
		c->total += 2;
		c->passed += credit;
		if (credit == 2) {
			full++;
			continue;
		}
		if (exp)
			exp->flags |= F_MISSING_FACT;
		if (!cJSON_AddItemToArray(q->missing,
					  cJSON_CreateString(fd->key)) ||
		    list_add(credit ? &elsewhere : &absent, fd->key) < 0)
			goto out;
	}
	rc = coverage_detail(c, full, &elsewhere, &absent);
out:
	kg_buf_free(&elsewhere);
	kg_buf_free(&absent);
	return rc;
}

/* Add `s[off, off+len)` to arr unless already there. */
static int
add_value_once(cJSON *arr, const char *s, size_t len)
{
	char v[VALUE_SHOW_MAX + 1];
	const cJSON *it;

	if (len > VALUE_SHOW_MAX)
		len = VALUE_SHOW_MAX;
	memcpy(v, s, len);
	v[len] = '\0';
	cJSON_ArrayForEach(it, arr)
		if (!strcmp(it->valuestring, v))
			return 0;
	return cJSON_AddItemToArray(arr, cJSON_CreateString(v)) ? 0 : -1;
}

static int
consistency_section(struct qctx *q, struct qsec *s, cJSON *unsup,
		    struct kg_buf *detail)
{
	cJSON *arr = NULL, *it;
	const struct qtok *t;
	size_t k;

	for (k = 0; k < s->toks.n; k++) {
		t = &s->toks.v[k];
		if (tok_supported(&q->facts, t))
			continue;
		if (!arr)
			arr = cJSON_AddArrayToObject(unsup, s->def->key);
		if (!arr)
			return -1;
		if (add_value_once(arr, s->body + t->off, t->len) < 0)
			return -1;
	}
	if (!arr)
		return 1;
	s->flags |= F_UNSUPPORTED;
	if (kg_buf_printf(detail, "; %s: ", s->def->key) < 0)
		return -1;
	cJSON_ArrayForEach(it, arr)
		if (kg_buf_printf(detail, "%s%s", it == arr->child ? "" : ", ",
				  it->valuestring) < 0)
			return -1;
	return 0;
}

static int
crit_consistency(struct qctx *q, struct qcrit *c)
{
	struct kg_buf list = {0};
	size_t k;
	int rc = -1, clean;

	c->extra_name = "unsupported";
	c->extra = cJSON_CreateObject();
	if (!c->extra)
		return -1;
	for (k = 0; k < q->nsec; k++) {
		if (!q->sec[k].nonempty)
			continue;
		c->total++;
		clean = consistency_section(q, &q->sec[k], c->extra, &list);
		if (clean < 0)
			goto out;
		c->passed += clean;
	}
	rc = kg_buf_printf(&c->detail, "sekcje bez liczb spoza danych: "
			   "%d z %d%s", c->passed, c->total,
			   kg_buf_str(&list));
out:
	kg_buf_free(&list);
	return rc;
}

static int
crit_language(struct qctx *q, struct qcrit *c)
{
	const unsigned lang = F_ENGLISH | F_PLACEHOLDER | F_MARKDOWN;
	struct qsec *s;
	size_t k;

	for (k = 0; k < q->nsec; k++) {
		s = &q->sec[k];
		if (!s->nonempty)
			continue;
		c->total++;
		if (lang_english(s->body))
			s->flags |= F_ENGLISH;
		if (lang_placeholder(s))
			s->flags |= F_PLACEHOLDER;
		if (lang_markdown(s->body))
			s->flags |= F_MARKDOWN;
		c->passed += !(s->flags & lang);
	}
	if (kg_buf_printf(&c->detail, "sekcje bez usterek językowych: "
			  "%d z %d", c->passed, c->total) < 0 ||
	    detail_flagged(q, &c->detail, F_ENGLISH, "po angielsku: ") < 0 ||
	    detail_flagged(q, &c->detail, F_PLACEHOLDER, "zaślepki: ") < 0 ||
	    detail_flagged(q, &c->detail, F_MARKDOWN, "markdown: ") < 0)
		return -1;
	return 0;
}

static int
crit_review(struct qctx *q, struct qcrit *c)
{
	size_t k;

	for (k = 0; k < q->nsec; k++) {
		c->total++;
		c->passed += q->sec[k].reviewed;
	}
	return kg_buf_printf(&c->detail, "sekcje przejrzane: %d z %d",
			     c->passed, c->total);
}

/* The maxima sum to 100 (a unit test checks it).  Order here is the
 * order of "criteria" in the JSON. */
static const struct crit_def {
	const char *name;
	int max;
	int (*run)(struct qctx *, struct qcrit *);
} crit_defs[] = {
	{"completeness", 25, crit_completeness},
	{"length", 20, crit_length},
	{"coverage", 20, crit_coverage},
	{"consistency", 15, crit_consistency},
	{"language", 10, crit_language},
	{"review", 10, crit_review},
};

#define NCRIT KG_COUNT(crit_defs)

/* Half-up rounding of max * passed / total in integers. */
static int
crit_points(const struct crit_def *cd, const struct qcrit *c)
{
	long num, den;

	if (c->total <= 0)
		return c->full_if_none ? cd->max : 0;
	num = (long)cd->max * 2 * c->passed + c->total;
	den = 2L * c->total;
	return (int)(num / den);
}

/* ------------------------------------------------------------------ */
/* JSON                                                               */
/* ------------------------------------------------------------------ */

static int
json_criterion(cJSON *criteria, const struct crit_def *cd,
	       struct qcrit *c, int points)
{
	cJSON *o = cJSON_AddObjectToObject(criteria, cd->name);

	if (!o || !cJSON_AddNumberToObject(o, "score", points) ||
	    !cJSON_AddNumberToObject(o, "max", cd->max) ||
	    !cJSON_AddStringToObject(o, "detail", kg_buf_str(&c->detail)))
		return -1;
	if (c->extra) {
		if (!cJSON_AddItemToObject(o, c->extra_name, c->extra))
			return -1;
		c->extra = NULL;	/* owned by o now */
	}
	return 0;
}

static int
json_flags(cJSON *root, const struct qctx *q)
{
	cJSON *secs = cJSON_AddObjectToObject(root, "sections"), *arr;
	size_t k, b;

	if (!secs)
		return -1;
	for (k = 0; k < q->nsec; k++) {
		if (!q->sec[k].def->key)
			continue;
		arr = cJSON_AddArrayToObject(secs, q->sec[k].def->key);
		if (!arr)
			return -1;
		for (b = 0; b < KG_COUNT(flag_names); b++)
			if (q->sec[k].flags & 1u << b &&
			    !cJSON_AddItemToArray(arr,
				cJSON_CreateString(flag_names[b])))
				return -1;
	}
	return 0;
}

static cJSON *
json_result(struct qctx *q, struct qcrit *crit)
{
	cJSON *root = cJSON_CreateObject(), *criteria = NULL;
	int points[NCRIT], total = 0;
	size_t k;

	for (k = 0; k < NCRIT; k++) {
		points[k] = crit_points(&crit_defs[k], &crit[k]);
		total += points[k];
	}
	total = total < 0 ? 0 : total > 100 ? 100 : total;
	if (root && cJSON_AddNumberToObject(root, "score", total))
		criteria = cJSON_AddObjectToObject(root, "criteria");
	if (!criteria)
		goto fail;
	for (k = 0; k < NCRIT; k++)
		if (json_criterion(criteria, &crit_defs[k], &crit[k],
				   points[k]) < 0)
			goto fail;
	if (json_flags(root, q) < 0)
		goto fail;
	if (!cJSON_AddItemToObject(root, "missing_facts", q->missing))
		goto fail;
	q->missing = NULL;	/* owned by root now */
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

cJSON *
kg_quality_score(const cJSON *input, const struct kg_section_def *defs,
		 size_t ndefs, const struct kg_quality_section *sections,
		 size_t nsections)
{
	struct qctx q;
	struct qcrit crit[NCRIT];
	cJSON *res = NULL;
	size_t k;

	memset(&q, 0, sizeof(q));
	memset(crit, 0, sizeof(crit));
	q.sec = ndefs ? calloc(ndefs, sizeof(*q.sec)) : NULL;
	q.missing = cJSON_CreateArray();
	if ((ndefs && !q.sec) || !q.missing ||
	    facts_load(&q.facts, input) < 0)
		goto out;
	for (q.nsec = 0; q.nsec < ndefs; q.nsec++)
		if (sec_load(&q.sec[q.nsec], &defs[q.nsec], sections,
			     nsections) < 0)
			goto out;
	for (k = 0; k < NCRIT; k++)
		if (crit_defs[k].run(&q, &crit[k]) < 0)
			goto out;
	res = json_result(&q, crit);
out:
	for (k = 0; k < NCRIT; k++) {
		kg_buf_free(&crit[k].detail);
		cJSON_Delete(crit[k].extra);
	}
	for (k = 0; k < ndefs && q.sec; k++)
		sec_free(&q.sec[k]);
	free(q.sec);
	cJSON_Delete(q.missing);
	facts_free(&q.facts);
	return res;
}
