/*
 * kg_quality - text scanning (kg_quality_int.h): code points and case
 * folding, words and the inflection-tolerant matching of names and
 * groups, and the language checks of a section.
 */
#include "kg_quality_int.h"
#include "kg_array.h"

#include <stdlib.h>
#include <string.h>

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

/* Locale-independent lower case: tolower() would depend on setlocale()
 * and never sees a multi-byte Ł anyway. */
static uint32_t
cp_lower(uint32_t c)
{
	size_t k;

	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
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

int
kg_quality_fold(struct kg_buf *out, const char *s)
{
	char enc[4];
	size_t i = 0, n, k;

	while (s[i]) {
		uint32_t c;

		/* A run of ASCII, most of any text, is copied at once. */
		for (n = 0; s[i + n] && !((unsigned char)s[i + n] & 0x80); n++)
			;
		if (n) {
			k = out->len;
			if (kg_buf_append(out, s + i, n) < 0)
				return -1;
			for (; k < out->len; k++)
				out->data[k] = (char)cp_lower(
					(unsigned char)out->data[k]);
			i += n;
			continue;
		}
		c = cp_lower(utf8_next(s, &i));
		if (kg_buf_append(out, enc, kg_utf8_encode(c, enc)) < 0)
			return -1;
	}
	return 0;
}

void
kg_quality_read_word(const char *s, size_t *i, char *w, size_t wsz)
{
	size_t n = 0, j;
	uint32_t c;

	for (;;) {
		unsigned char b = (unsigned char)s[*i];

		if (b < 0x80) {		/* ASCII, most of any text: no decoding */
			if (!b || !is_word_cp(b))
				break;
			(*i)++;
			if (n + 4 < wsz)
				w[n++] = (char)cp_lower(b);
			continue;
		}
		j = *i;
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
			kg_quality_read_word(s, i, w, wsz);
			return 1;
		}
		*i = j;
	}
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

int
kg_quality_words_build(struct wordlist *wl, const char *s)
{
	char w[WORD_MAX];
	size_t i = 0;

	while (next_word(s, &i, w, sizeof(w)))
		if (words_add(wl, w) < 0)
			return -1;
	return 0;
}

int
kg_quality_words_significant(struct wordlist *wl, const char *s)
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

void
kg_quality_words_free(struct wordlist *wl)
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

int
kg_quality_words_seq(const struct wordlist *hay,
		     const struct wordlist *needle)
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

int
kg_quality_words_have(const struct wordlist *hay, const char *w)
{
	size_t i;

	for (i = 0; i < hay->n; i++)
		if (word_matches(w, word_at(hay, i)))
			return 1;
	return 0;
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
int
kg_quality_english(const char *s)
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

			kg_quality_read_word(s, &i, w, sizeof(w));
			while (w[k])
				dia |= is_pl_diacritic(utf8_next(w, &k));
			if (in_list(w, en_stopwords, KG_COUNT(en_stopwords)))
				en++;
			else if (dia || in_list(w, pl_stopwords,
						 KG_COUNT(pl_stopwords)))
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

int
kg_quality_placeholder(const char *body, const char *lower,
		       const struct wordlist *words)
{
	size_t k;

	for (k = 0; k < KG_COUNT(placeholder_marks); k++)
		if (strstr(lower, placeholder_marks[k]))
			return 1;
	for (k = 0; k < words->n; k++)
		if (in_list(word_at(words, k), placeholder_words,
			    KG_COUNT(placeholder_words)))
			return 1;
	return bracket_label(body);
}

int
kg_quality_markdown(const char *s)
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
