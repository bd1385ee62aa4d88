/*
 * kg_xmlscan - the subset of XML that spreadsheet exporters write, and
 * KG_XMLSCAN_BAIL for everything else (the subset and the rule are in
 * kg_xmlscan.h).
 *
 * Tokens are scanned in place: a tag is first measured without touching
 * the buffer (if it is cut off at the end of the data, it is scanned
 * again once more has come), then its names are NUL-terminated and its
 * attribute values decoded where they lie - what a reference stands for
 * is never longer than the reference - and the handlers get pointers
 * into the buffer, as expat's get pointers into its own.  A text run
 * is one token up to the next '<', decoded the same way and handed over
 * in one piece.  The buffer holds a NUL after the data, so a scan for a
 * name or whitespace stops there without a bounds check; whether it
 * stopped at the end (more data needed) or at a byte that does not
 * belong (outside the subset) is told by its position.
 */
#define _GNU_SOURCE	/* memmem */
#include "kg_xmlscan.h"
#include "kg_utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { START, BEFORE, INSIDE, AFTER };	/* where in the document */

/* How a token came out: scanned, cut off by the end of the data, or
 * outside the subset. */
enum tok { T_DONE, T_MORE, T_BAIL };

static int
is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static int
name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.';
}

/* The end of the name at p: [A-Za-z_][A-Za-z0-9._-]*, optionally ':'
 * and a second such part.  `end` when the data ends before anything
 * tells (more is needed), NULL when there is no such name. */
static char *
scan_name(char *p, char *end)
{
	int colon = 0;

	for (;;) {
		if (!name_start(*p))
			return p == end ? end : NULL;
		for (p++; name_char(*p); p++)
			;
		if (*p != ':' || colon)
			return p;
		colon = 1;
		p++;
	}
}

/* Characters XML 1.0 allows; expat refuses a reference to any other. */
static int
xml_char(uint32_t c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/*
 * The reference at p ('&', before end): the character it stands for
 * written to out (*olen bytes, at most 4, never more than the reference
 * is long) and the reference's length; 0 when it is none of the five
 * predefined entities or a character reference to a character XML
 * allows (&#0;, a surrogate, &#X41; with a capital X, more than 8
 * digits: outside the subset).
 */
static size_t
reference(const char *p, const char *end, char *out, size_t *olen)
{
	static const struct {
		const char *ref;
		size_t len;
		char c;
	} named[] = {{"&lt;", 4, '<'}, {"&gt;", 4, '>'}, {"&amp;", 5, '&'},
		     {"&apos;", 6, '\''}, {"&quot;", 6, '"'}};
	const char *q = p + 2;
	uint32_t cp = 0;
	int hex, digits = 0, d;
	size_t i;

	if (end - p < 4)
		return 0;
	if (p[1] != '#') {
		for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
			if ((size_t)(end - p) >= named[i].len &&
			    !memcmp(p, named[i].ref, named[i].len)) {
				*out = named[i].c;
				*olen = 1;
				return named[i].len;
			}
		return 0;
	}
	hex = *q == 'x';
	for (q += hex; q < end && *q != ';'; q++) {
		if (*q >= '0' && *q <= '9')
			d = *q - '0';
		else if (hex && *q >= 'a' && *q <= 'f')
			d = *q - 'a' + 10;
		else if (hex && *q >= 'A' && *q <= 'F')
			d = *q - 'A' + 10;
		else
			return 0;
		if (++digits > 8)
			return 0;
		cp = cp * (hex ? 16u : 10u) + (uint32_t)d;
	}
	if (q == end || !digits || !xml_char(cp))
		return 0;
	*olen = kg_utf8_encode(cp, out);
	return (size_t)(q + 1 - p);
}

/* Bit 7 set in each of the 8 bytes of w that needs a closer look: a
 * control character, a byte of a multi-byte sequence, '&', ']', and in
 * an attribute value '<'. */
static uint64_t
special8(uint64_t w, int attr)
{
	uint64_t m = kg_zero_bytes(w & KG_ONES * 0xe0) | (w & KG_HIGH) |
		     kg_zero_bytes(w ^ KG_ONES * '&') |
		     kg_zero_bytes(w ^ KG_ONES * ']');

	return attr ? m | kg_zero_bytes(w ^ KG_ONES * '<') : m;
}

/* The length of the multi-byte character at p, 0 if it is not valid
 * UTF-8 or U+FFFE or U+FFFF (which expat refuses too). */
static size_t
utf8_char(const char *p, const char *end)
{
	uint32_t cp;
	size_t k;

	if ((unsigned char)*p >= 0xc2 && (unsigned char)*p <= 0xdf &&
	    end - p >= 2 && ((unsigned char)p[1] & 0xc0) == 0x80)
		return 2;	/* Latin, Polish: the common case */
	k = kg_utf8_decode((const unsigned char *)p, (size_t)(end - p), &cp);
	return cp == 0xfffe || cp == 0xffff ? 0 : k;
}

/*
 * One character at p that special8() marked (or one of the last seven
 * bytes): written to *out, which moves on; the number of bytes read,
 * 0 when it is outside the subset.
 */
static size_t
decode_one(const char *p, const char *end, char **out, int attr)
{
	unsigned char c = (unsigned char)*p;
	size_t k, olen;

	if (c >= 0x80) {
		if (!(k = utf8_char(p, end)))
			return 0;
		memmove(*out, p, k);
		*out += k;
		return k;
	}
	if (c == '&') {
		if (!(k = reference(p, end, *out, &olen)))
			return 0;
		*out += olen;
		return k;
	}
	k = 1;
	if (c == '\r') {	/* CR LF and CR are a line end, LF */
		k += end - p >= 2 && p[1] == '\n';
		c = '\n';
	} else if (c < 0x20 && c != '\t' && c != '\n') {
		return 0;
	} else if (c == '<' || (c == ']' && end - p >= 3 && p[1] == ']' &&
				p[2] == '>')) {
		return 0;	/* "]]>" may not occur in text */
	}
	*(*out)++ = attr && c < 0x20 ? ' ' : (char)c;
	return k;
}

/* A byte that stands for itself (what special8() does not mark). */
static int
plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '&' && c != ']' && c != '<';
}

/*
 * Decode the text or attribute value s[0..n) in place: references
 * replaced, line ends normalised, in an attribute value (attr) tab and
 * line ends made spaces, as expat does for attributes without a DTD.
 * The decoded length, or -1 when it is outside the subset.  Plain bytes
 * go 8 at a time; until the first reference nothing moves.
 */
static long
decode(char *s, size_t n, int attr)
{
	char *out = s, *p = s, *end = s + n;
	uint64_t w, m;
	size_t k;

	while (p < end) {
		if (end - p >= 8) {
			memcpy(&w, p, 8);
			if (!(m = special8(w, attr))) {
				if (out != p)
					memcpy(out, &w, 8);
				out += 8;
				p += 8;
				continue;
			}
			k = (size_t)__builtin_ctzll(m) >> 3;
		} else {
			for (k = 0; p + k < end && plain((unsigned char)p[k]);)
				k++;
		}
		if (out != p)
			while (k--)
				*out++ = *p++;
		else
			out = p += k;
		if (p < end) {
			if (!(k = decode_one(p, end, &out, attr)))
				return -1;
			p += k;
		}
	}
	return out - s;
}

/* A text run inside the root element, up to the next '<'. */
static enum tok
text_run(struct kg_xmlscan *x, char *p, char *end, char **next)
{
	char *lt = memchr(p, '<', (size_t)(end - p));
	long n;

	if (!lt)
		return T_MORE;
	if ((n = decode(p, (size_t)(lt - p), 0)) < 0)
		return T_BAIL;
	if (n && x->text)
		x->text(x->ud, p, (int)n);
	*next = lt;
	return T_DONE;
}

/*
 * A comment, which no handler sees: "<!--", characters XML allows
 * without "--", "-->".
 */
static enum tok
comment(char *p, char *end, char **next)
{
	char *q = p + 4, *dd;
	size_t k;

	if (end - p < 4)
		return T_MORE;
	if (memcmp(p, "<!--", 4))
		return T_BAIL;	/* CDATA, DOCTYPE */
	if (!(dd = memmem(q, (size_t)(end - q), "--", 2)) || dd + 2 == end)
		return T_MORE;
	if (dd[2] != '>')
		return T_BAIL;
	for (; q < dd; q += k) {
		k = 1;
		if ((unsigned char)*q >= 0x80 ? !(k = utf8_char(q, dd))
					       : (unsigned char)*q < 0x20 &&
						 !is_space(*q))
			return T_BAIL;
	}
	*next = dd + 3;
	return T_DONE;
}

/* Where a start tag's attributes lie until they are decoded. */
struct att {
	char *name, *name_end, *val, *val_end;
};

/* The rest of a start tag from its name's end at q: attributes into a,
 * their number into *n; *empty for "/>". */
static enum tok
measure_tag(char *q, char *end, struct att *a, unsigned *n, int *empty,
	    char **next)
{
	int ws;

	for (*n = 0;; (*n)++) {
		for (ws = 0; is_space(*q); ws = 1)
			q++;
		if (q == end || (*q == '/' && q + 1 == end))
			return T_MORE;
		if (*q == '>' || (*q == '/' && q[1] == '>'))
			break;
		/* attributes are separated by whitespace */
		if (!ws || *n == KG_XMLSCAN_ATTS)
			return T_BAIL;
		a[*n].name = q;
		if (!(q = scan_name(q, end)))
			return T_BAIL;
		a[*n].name_end = q;
		while (is_space(*q))
			q++;
		if (q == end)
			return T_MORE;
		if (*q++ != '=')
			return T_BAIL;
		while (is_space(*q))
			q++;
		if (q == end)
			return T_MORE;
		if (*q != '"' && *q != '\'')
			return T_BAIL;
		a[*n].val = q + 1;
		if (!(q = memchr(q + 1, *q, (size_t)(end - q - 1))))
			return T_MORE;
		a[*n].val_end = q++;
	}
	*empty = *q == '/';
	*next = q + 1 + *empty;
	return T_DONE;
}

/* Names NUL-terminated, values decoded, no name twice: x->atts. */
static enum tok
take_atts(struct kg_xmlscan *x, struct att *a, unsigned n)
{
	unsigned i, j;
	long len;

	for (i = 0; i < n; i++) {
		*a[i].name_end = '\0';	/* was whitespace or '=' */
		len = decode(a[i].val, (size_t)(a[i].val_end - a[i].val), 1);
		if (len < 0)
			return T_BAIL;
		a[i].val[len] = '\0';
		for (j = 0; j < i; j++)
			if (!strcmp(a[j].name, a[i].name))
				return T_BAIL;	/* expat: duplicate */
		x->atts[2 * i] = a[i].name;
		x->atts[2 * i + 1] = a[i].val;
	}
	x->atts[2 * n] = NULL;
	return T_DONE;
}

static enum tok
start_tag(struct kg_xmlscan *x, char *p, char *end, char **next)
{
	struct att a[KG_XMLSCAN_ATTS];
	char *name = p + 1, *name_end = scan_name(name, end);
	unsigned n;
	size_t len;
	int empty = 0;
	enum tok t;

	if (!name_end)
		return T_BAIL;
	if (name_end < end && !is_space(*name_end) && *name_end != '>' &&
	    *name_end != '/')
		return T_BAIL;
	if ((t = measure_tag(name_end, end, a, &n, &empty, next)) != T_DONE)
		return t;
	len = (size_t)(name_end - name);
	if (x->depth == KG_XMLSCAN_DEPTH ||
	    x->names_len + len + 1 > sizeof(x->names))
		return T_BAIL;
	if (take_atts(x, a, n) != T_DONE)
		return T_BAIL;
	*name_end = '\0';	/* was whitespace, '>' or '/' */
	x->state = INSIDE;
	if (!empty) {
		x->name_off[x->depth++] = x->names_len;
		memcpy(x->names + x->names_len, name, len + 1);
		x->names_len += (unsigned)len + 1;
	}
	if (x->start)
		x->start(x->ud, name, x->atts);
	/* as expat: <x/> is a start and an end, even if the first stops */
	if (empty && x->end)
		x->end(x->ud, name);
	if (!x->depth)
		x->state = AFTER;
	return T_DONE;
}

static enum tok
end_tag(struct kg_xmlscan *x, char *p, char *end, char **next)
{
	char *name = p + 2, *q = scan_name(name, end), *top;
	size_t len;

	if (!q)
		return T_BAIL;
	len = (size_t)(q - name);
	while (is_space(*q))
		q++;
	if (q == end)
		return T_MORE;
	if (*q != '>' || !x->depth)
		return T_BAIL;
	top = x->names + x->name_off[x->depth - 1];
	if (strncmp(top, name, len) || top[len])
		return T_BAIL;	/* not the element that is open */
	*next = q + 1;
	x->names_len = x->name_off[--x->depth];
	if (x->end)
		x->end(x->ud, top);	/* still there until the next push */
	if (!x->depth)
		x->state = AFTER;
	return T_DONE;
}

static enum tok
token(struct kg_xmlscan *x, char *p, char *end, char **next)
{
	if (*p != '<') {
		if (x->state == INSIDE)
			return text_run(x, p, end, next);
		while (is_space(*p))	/* outside the root: whitespace */
			p++;
		if (p < end && *p != '<')
			return T_BAIL;
		*next = p;
		return T_DONE;
	}
	if (p + 1 == end)
		return T_MORE;
	if (p[1] == '/')
		return x->state == INSIDE ? end_tag(x, p, end, next) : T_BAIL;
	if (p[1] == '!')
		return comment(p, end, next);
	/* processing instructions, a second root */
	if (p[1] == '?' || x->state == AFTER)
		return T_BAIL;
	return start_tag(x, p, end, next);
}

/* S name S? '=' S? quoted one-of-values at q: the end, or NULL. */
static const char *
pseudo_att(const char *q, const char *name, const char *const *values)
{
	size_t n = strlen(name), v;
	char quote;

	if (!is_space(*q))
		return NULL;
	while (is_space(*q))
		q++;
	if (strncmp(q, name, n))
		return NULL;
	for (q += n; is_space(*q);)
		q++;
	if (*q++ != '=')
		return NULL;
	while (is_space(*q))
		q++;
	if ((quote = *q++) != '"' && quote != '\'')
		return NULL;
	for (; *values; values++) {
		v = strlen(*values);
		if (!strncmp(q, *values, v) && q[v] == quote)
			return q + v + 1;
	}
	return NULL;
}

/*
 * The start of the document: a UTF-8 byte order mark and the XML
 * declaration, if there are any.  Only version 1.0 and UTF-8 are in
 * the subset; expat decides about any other declaration.
 */
static enum tok
prolog(struct kg_xmlscan *x, int final)
{
	static const char *const version[] = {"1.0", NULL},
			  *const encoding[] = {"UTF-8", "utf-8", NULL},
			  *const standalone[] = {"yes", "no", NULL};
	const char *p = x->buf, *q, *close, *next;
	size_t len = x->len;

	if (len < 6 && !final)
		return T_MORE;
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	if (!strncmp(p, "<?", 2)) {
		close = memmem(p, len - (size_t)(p - x->buf), "?>", 2);
		if (!close)
			return final ? T_BAIL : T_MORE;
		if (strncmp(p, "<?xml", 5) ||
		    !(q = pseudo_att(p + 5, "version", version)))
			return T_BAIL;
		if ((next = pseudo_att(q, "encoding", encoding)))
			q = next;
		if ((next = pseudo_att(q, "standalone", standalone)))
			q = next;
		while (is_space(*q))
			q++;
		if (q != close)
			return T_BAIL;
		p = close + 2;
	}
	x->pos = (size_t)(p - x->buf);
	x->state = BEFORE;
	return T_DONE;
}

void
kg_xmlscan_init(struct kg_xmlscan *x, kg_xmlscan_start_fn start,
		kg_xmlscan_end_fn end, kg_xmlscan_text_fn text, void *ud)
{
	memset(x, 0, sizeof(*x));
	x->start = start;
	x->end = end;
	x->text = text;
	x->ud = ud;
	x->state = START;
}

void
kg_xmlscan_free(struct kg_xmlscan *x)
{
	free(x->buf);
	x->buf = NULL;
}

void *
kg_xmlscan_buffer(struct kg_xmlscan *x, size_t want)
{
	size_t keep = x->len - x->pos, cap = keep + want + 1;
	char *b;

	if (keep > KG_XMLSCAN_MAX_TOKEN)
		return NULL;
	if (x->pos) {	/* the token cut off at the end, to the front */
		memmove(x->buf, x->buf + x->pos, keep);
		x->len = keep;
		x->pos = 0;
	}
	if (cap > x->cap) {
		/* room for a token cut at the end (kg_xlsx asks for 60 KiB:
		 * one 64 KiB buffer, as expat's), doubled for a longer one */
		if (!x->cap)
			cap += 4096;
		else if (cap < 2 * x->cap)
			cap = 2 * x->cap;
		if (!(b = realloc(x->buf, cap)))
			return NULL;
		x->buf = b;
		x->cap = cap;
	}
	return x->buf + x->len;
}

enum kg_xmlscan_status
kg_xmlscan_parse(struct kg_xmlscan *x, size_t n, int final)
{
	char *end, *next = NULL;
	enum tok t;

	if (!x->buf || x->len + n >= x->cap)
		return KG_XMLSCAN_BAIL;	/* kg_xmlscan_buffer() first */
	x->len += n;
	x->buf[x->len] = '\0';
	end = x->buf + x->len;
	if (x->state == START && (t = prolog(x, final)) != T_DONE)
		return t == T_MORE ? KG_XMLSCAN_OK : KG_XMLSCAN_BAIL;
	while (x->state != START && x->pos < x->len) {
		t = token(x, x->buf + x->pos, end, &next);
		if (t == T_MORE)
			break;
		if (t == T_BAIL)
			return KG_XMLSCAN_BAIL;
		x->pos = (size_t)(next - x->buf);
		if (x->stopped)
			return KG_XMLSCAN_STOPPED;
	}
	if (final && (x->pos != x->len || x->state != AFTER))
		return KG_XMLSCAN_BAIL;	/* cut off, or no root */
	return KG_XMLSCAN_OK;
}

void
kg_xmlscan_stop(struct kg_xmlscan *x)
{
	x->stopped = 1;
}
