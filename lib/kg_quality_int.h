/*
 * kg_quality_int - what the parts of kg_quality share; internal to lib/
 * (the public interface is kg_quality.h, and nothing outside the
 * kg_quality*.c files includes this header).
 *
 * The score is computed in three layers, one file each:
 *
 *   kg_quality_text.c   text scanning: code points, case folding, words
 *                       and inflection-tolerant matching, the language
 *                       checks (English, placeholders, Markdown)
 *   kg_quality_num.c    number scanning: amounts, numbers and dates in
 *                       a text, as tokens
 *   kg_quality_facts.c  the facts of the input row, and whether a token
 *                       of a text is supported by them
 *   kg_quality.c        sections, the six criteria and the JSON
 *
 * Word lists, markers and weights are tables at the top of each part so
 * the rules can be read (and changed) as data.
 */
#ifndef KG_QUALITY_INT_H
#define KG_QUALITY_INT_H

#include "kg_buf.h"
#include "kg_quality.h"
#include "kg_utf8.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WORD_MAX 64		/* longer words are truncated when folded */
#define YEAR_MIN 1900
#define YEAR_MAX 2100

/* ---- code points (kg_quality_text.c) ------------------------------- */

/*
 * Decode one code point at s + *i and advance *i.  A malformed byte
 * decodes as U+FFFD and advances by one, so scanning never stalls and
 * never reads past the terminating NUL (NUL is not a continuation byte).
 */
static inline uint32_t
utf8_next(const char *s, size_t *i)
{
	uint32_t c;
	size_t n = kg_utf8_decode((const unsigned char *)s + *i, 4, &c);

	*i += n ? n : 1;
	return n ? c : 0xFFFD;
}

static inline uint32_t
cp_at(const char *s, size_t i)
{
	return utf8_next(s, &i);
}

static inline int
is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

/* Letters and digits.  Everything from U+00C0 up counts as a letter
 * except the punctuation and symbol blocks, so Polish, German or Czech
 * names are words without a Unicode table. */
static inline int
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

static inline int
is_letter(uint32_t c)
{
	return is_word_cp(c) && !is_digit(c);
}

/* Lower-case copy of s (ASCII, Latin-1, Polish), for substring checks. */
int kg_quality_fold(struct kg_buf *out, const char *s);

/* Read the run of word characters at s + *i (which must start one),
 * lower-cased into w (truncated at a code point to fit wsz), and move
 * *i past the whole run. */
void kg_quality_read_word(const char *s, size_t *i, char *w, size_t wsz);

static inline int
in_list(const char *w, const char *const *list, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)	/* the first byte spares most strcmp calls */
		if (w[0] == list[k][0] && !strcmp(w, list[k]))
			return 1;
	return 0;
}

/* ---- words (kg_quality_text.c) ------------------------------------- */

struct wordlist {
	struct kg_buf buf;	/* "w1\0w2\0...", lower-cased */
	size_t *off;
	size_t n, cap;
};

static inline const char *
word_at(const struct wordlist *wl, size_t k)
{
	return wl->buf.data + wl->off[k];
}

/* Every word of s, lower-cased. */
int kg_quality_words_build(struct wordlist *wl, const char *s);
/* The words of s that carry meaning (4+ letters, no Polish stop word):
 * "osoby w wieku 60+" must not be covered by any "w". */
int kg_quality_words_significant(struct wordlist *wl, const char *s);
void kg_quality_words_free(struct wordlist *wl);
/* Does hay contain all of needle's words, consecutively, with the
 * inflection tolerance of kg_quality.h ("Fundacja" ~ "Fundacji")? */
int kg_quality_words_seq(const struct wordlist *hay,
			 const struct wordlist *needle);
/* Does hay contain w, with the same tolerance? */
int kg_quality_words_have(const struct wordlist *hay, const char *w);

/* ---- language checks (kg_quality_text.c) --------------------------- */

/* A sentence in English (2+ English stop words, more than the Polish
 * evidence). */
int kg_quality_english(const char *body);
/* A placeholder: a marker in the lower-cased body, a TODO-like word, or
 * a bracketed label ("[nazwa]"). */
int kg_quality_placeholder(const char *body, const char *lower,
			   const struct wordlist *words);
/* Markdown markup: emphasis, code fences, links, tables, headings. */
int kg_quality_markdown(const char *body);

/* ---- numbers, amounts and dates (kg_quality_num.c) ----------------- */

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

int kg_quality_toks_push(struct qtoks *t, const struct qtok *tok);
/* Every number, amount and date in s, in order, appended to t. */
int kg_quality_toks_scan(struct qtoks *t, const char *s);
/* s is exactly one ISO date (2025-03-01): 1 with d set; else 0 with d
 * zeroed. */
int kg_quality_iso_date(const char *s, struct qtok *d);
/* Does the number t stand for the amount `cents` (equal, or within half
 * a unit of an abbreviated amount's last digit)? */
int kg_quality_num_matches(const struct qtok *t, long long cents);

/* ---- facts of the input (kg_quality_facts.c) ----------------------- */

struct qfacts {
	struct qtoks toks;	/* every number and date of every field */
	long long budget;	/* * 100; 0 = none */
	struct qtok start, end;	/* TOK_DATE; y 0 = none */
	struct qtok lo, hi;	/* start and end in order; both or neither */
	int ymin, ymax;		/* years of start..end; 0 = none */
	int months;		/* calendar months start..end inclusive */
	struct wordlist name, org, target;
};

/* f zeroed by the caller; kg_quality_facts_free() also after a -1. */
int kg_quality_facts_load(struct qfacts *f, const cJSON *input);
void kg_quality_facts_free(struct qfacts *f);
/* Is the token t of a text supported by the input? */
int kg_quality_supported(const struct qfacts *f, const struct qtok *t);

#endif
