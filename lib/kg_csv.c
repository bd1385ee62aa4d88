#include "kg_csv.h"
#include "kg_utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define KG_CSV_SNIFF 4096
#define UTF8_HINT "in Excel use Zapisz jako -> \"CSV UTF-8 (rozdzielany " \
		  "przecinkami)\""

/*
 * The reader streams: the input is taken a chunk at a time (all of it at
 * once when it is in memory), each chunk checked (NUL, UTF-8) before any
 * of it is parsed, and a field is copied only when it spans two chunks
 * or holds a doubled quote; otherwise its bytes are normalised straight
 * from the chunk into the row.
 */
struct csv {
	/* the input */
	const char *p;		/* the current chunk */
	size_t n, i;		/* its length, the position in it */
	int fd;			/* -1: the whole input is p[0..n) */
	size_t off, len;	/* fd: bytes read so far, of len */
	char *buf;		/* fd: the chunk buffer */
	size_t cap;
	unsigned char carry[4];	/* a UTF-8 sequence cut by the chunk's end */
	size_t ncarry;
	unsigned nl;		/* '\n' in the chunks checked before */
	/* the parser */
	char delim;
	unsigned char stop[256];	/* delimiter, CR, LF */
	unsigned line;		/* physical line, for error messages */
	int cr;			/* quoted: the last byte was a CR */
	unsigned row, col;	/* record number (1-based), field index */
	struct kg_sheet_rows rows;
	/* the field being read: seg (in the chunk, not copied) while it is
	 * one piece, else field */
	const char *seg;
	size_t segn;
	struct kg_buf field;
};

/* ---- the input ------------------------------------------------------- */

static int
not_utf8(const char *p, size_t upto, unsigned line, struct kg_err *err)
{
	for (size_t i = 0; i < upto; i++)
		line += p[i] == '\n';
	return kg_err_set(err, 400, "not_utf8", "the file is not UTF-8 "
			  "text (line %u); " UTF8_HINT, line);
}

/* '\n' in p[0..n), eight bytes at a time. */
static unsigned
count_lf(const unsigned char *p, size_t n)
{
	unsigned lf = 0;
	size_t k = 0;
	uint64_t x;

	for (; k + 8 <= n; k += 8) {
		memcpy(&x, p + k, 8);
		/* one bit a match, at bit 0 of its byte; summed by the
		 * multiplication into the top byte */
		lf += (unsigned)(((kg_zero_bytes(x ^ KG_ONES * '\n') >> 7) *
				  KG_ONES) >> 56);
	}
	for (; k < n; k++)
		lf += p[k] == '\n';
	return lf;
}

static size_t
seq_len(unsigned char lead)
{
	return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
}

/*
 * Refuse what is not UTF-8 text before any of it is parsed: the first
 * problem in the file wins, a NUL byte (400 not_csv) or a byte that is
 * not UTF-8 (not_utf8, naming its line), wherever the chunks are cut (a
 * sequence cut by the end of a chunk that is not the last is carried
 * over to the next), so reading in memory and streamed agree.
 */
static int
check_chunk(struct csv *c, const char *s, size_t n, int last,
	    struct kg_err *err)
{
	const unsigned char *p = (const unsigned char *)s, *nul;
	size_t i = 0, end = n, k, bad;
	uint32_t cp;

	if (c->ncarry) {	/* complete the sequence cut last time */
		while (c->ncarry < seq_len(c->carry[0]) && i < n)
			c->carry[c->ncarry++] = p[i++];
		if (c->ncarry < seq_len(c->carry[0]) && !last)
			return 0;	/* a chunk of 1-2 bytes: go on */
		if (kg_utf8_decode(c->carry, c->ncarry, &cp) != c->ncarry)
			return not_utf8(NULL, 0, c->nl + 1, err);
		c->ncarry = 0;
	}
	if (!last) {	/* a lead byte whose sequence the chunk cuts */
		for (k = n; k > i && n - k < 3 && (p[k - 1] & 0xc0) == 0x80;)
			k--;
		if (k > i && p[k - 1] >= 0xc0 && n - (k - 1) < seq_len(p[k - 1]))
			end = k - 1;
	}
	if ((nul = memchr(p + i, '\0', n - i)) && (size_t)(nul - p) < end)
		end = (size_t)(nul - p);
	bad = kg_utf8_check(s + i, end - i);
	if (bad != end - i)
		return not_utf8(s, i + bad, c->nl + 1, err);
	if (nul)
		return kg_err_set(err, 400, "not_csv", "the file contains NUL "
				  "bytes: it is not a CSV text file");
	for (k = end; k < n; k++)
		c->carry[c->ncarry++] = p[k];
	c->nl += count_lf(p, n);
	return 0;
}

/* Read len bytes at off from the file (all of them, or an error). */
static int
read_at(struct csv *c, char *to, size_t len, struct kg_err *err)
{
	ssize_t r;

	while (len) {
		r = pread(c->fd, to, len, (off_t)c->off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return kg_err_set(err, 500, "internal", "cannot read "
					  "the upload: %s", r < 0
					  ? strerror(errno) : "it is shorter");
		to += r;
		len -= (size_t)r;
		c->off += (size_t)r;
	}
	return 0;
}

/*
 * What the first KG_CSV_SNIFF bytes tell, whatever the chunks: UTF-16
 * text (its BOM), or a binary file renamed to .csv (a NUL byte) - before
 * a byte that is not UTF-8 there names a line of a file that has none.
 */
static int
sniff(struct csv *c, struct kg_err *err)
{
	char head[KG_CSV_SNIFF];
	size_t n = c->len < sizeof(head) ? c->len : sizeof(head);
	const char *p = c->fd < 0 ? c->p : head;

	if (c->fd >= 0 && read_at(c, head, n, err) < 0)
		return -1;
	c->off = 0;
	if (n >= 2 && ((p[0] == '\xff' && p[1] == '\xfe') ||
		       (p[0] == '\xfe' && p[1] == '\xff')))
		return kg_err_set(err, 400, "not_utf8", "the file is UTF-16 "
				  "text; " UTF8_HINT);
	if (memchr(p, '\0', n))
		return kg_err_set(err, 400, "not_csv", "the file contains NUL "
				  "bytes: it is not a CSV text file");
	return 0;
}

/* Append the next piece of the file to the chunk buffer at buf + at. */
static int
read_piece(struct csv *c, size_t at, struct kg_err *err)
{
	size_t want = c->len - c->off;

	if (want > c->cap - at)
		want = c->cap - at;
	if (read_at(c, c->buf + at, want, err) < 0 ||
	    check_chunk(c, c->buf + at, want, c->off == c->len, err) < 0)
		return -1;
	c->p = c->buf;
	c->n = at + want;
	return 0;
}

/* The field's bytes that are still only in the chunk: copied before the
 * chunk is overwritten. */
static int
keep_seg(struct csv *c, struct kg_err *err)
{
	if (!c->segn)
		return 0;
	if (kg_buf_append(&c->field, c->seg, c->segn) < 0)
		return kg_err_set(err, 500, "internal", "out of memory");
	c->segn = 0;
	return 0;
}

/* 1 when there are bytes at c->i (the next chunk read if need be), 0 at
 * the end of the input, -1 on error. */
static int
more(struct csv *c, struct kg_err *err)
{
	if (c->i < c->n)
		return 1;
	if (c->fd < 0 || c->off >= c->len)
		return 0;
	if (keep_seg(c, err) < 0 || read_piece(c, 0, err) < 0)
		return -1;
	c->i = 0;
	return 1;
}

/* ---- the parser ------------------------------------------------------ */

/* `;` or `,`: whichever occurs more often outside quotes in the first
 * record; `;` on a tie (Polish Excel's choice).  *whole: the record's end
 * was seen. */
static char
detect_delim(const char *p, size_t n, int *whole)
{
	size_t i, semi = 0, comma = 0;
	int quoted = 0;

	*whole = 0;
	for (i = 0; i < n; i++) {
		if (p[i] == '"')
			quoted = !quoted;
		else if (quoted)
			continue;
		else if (p[i] == '\n' || p[i] == '\r')
			break;
		else if (p[i] == ';')
			semi++;
		else if (p[i] == ',')
			comma++;
	}
	*whole = i < n;
	return comma > semi ? ',' : ';';
}

/* The first delimiter, CR or LF at or after i (c->n if none): eight
 * bytes at a time, then byte by byte in the word that has one. */
static size_t
field_stop(const struct csv *c, size_t i)
{
	const unsigned char *p = (const unsigned char *)c->p;
	uint64_t x, d = KG_ONES * (unsigned char)c->delim;

	for (; i + 8 <= c->n; i += 8) {
		memcpy(&x, p + i, 8);
		if (kg_zero_bytes(x ^ d) | kg_zero_bytes(x ^ KG_ONES * '\n') |
		    kg_zero_bytes(x ^ KG_ONES * '\r'))
			break;
	}
	while (i < c->n && !c->stop[p[i]])
		i++;
	return i;
}

/* Bytes p[from..to) of the chunk belong to the field. */
static int
field_add(struct csv *c, size_t from, size_t to, struct kg_err *err)
{
	size_t len = to - from;
	char name[8];

	if (!len)
		return 0;
	if (c->field.len + c->segn + len > KG_SHEET_MAX_CELL) {
		kg_sheet_col_name(c->col, name);
		return kg_err_set(err, 400, "cell_too_long",
				  "cell %s%u holds more than %zu KiB of text",
				  name, c->row, KG_SHEET_MAX_CELL >> 10);
	}
	if (!c->field.len && !c->segn) {	/* the first piece: kept */
		c->seg = c->p + from;
		c->segn = len;
		return 0;
	}
	if (keep_seg(c, err) < 0)
		return -1;
	return kg_buf_append(&c->field, c->p + from, len) < 0
		       ? kg_err_set(err, 500, "internal", "out of memory")
		       : 0;
}

/* Physical lines of quoted bytes p[from..to): LF, CR LF or a lone CR. */
static void
count_lines(struct csv *c, size_t from, size_t to)
{
	for (size_t k = from; k < to; k++) {
		if (c->cr && c->p[k] != '\n')
			c->line++;
		c->cr = c->p[k] == '\r';
		c->line += c->p[k] == '\n';
	}
}

/* The quoted part of a field, after its opening quote. */
static int
read_quoted(struct csv *c, struct kg_err *err)
{
	unsigned start = c->line;
	const char *q;
	int m;

	c->cr = 0;
	for (;;) {
		if ((m = more(c, err)) <= 0)
			return m < 0 ? -1 : kg_err_set(err, 400, "bad_csv",
				"a quoted field that starts on line %u never "
				"ends", start);
		q = memchr(c->p + c->i, '"', c->n - c->i);
		if (!q) {
			count_lines(c, c->i, c->n);
			if (field_add(c, c->i, c->n, err) < 0)
				return -1;
			c->i = c->n;
			continue;
		}
		count_lines(c, c->i, (size_t)(q - c->p));
		if (field_add(c, c->i, (size_t)(q - c->p), err) < 0)
			return -1;
		c->i = (size_t)(q - c->p) + 1;
		if (c->cr)
			c->line++;
		c->cr = 0;
		if ((m = more(c, err)) < 0)
			return -1;
		if (!m || c->p[c->i] != '"')
			return 0;
		c->i++;		/* "" -> keep one quote */
		if (field_add(c, c->i - 1, c->i, err) < 0)
			return -1;
	}
}

/* One field up to (not including) its delimiter or line end. */
static int
read_field(struct csv *c, struct kg_err *err)
{
	const char *text;
	size_t from, len;
	int m, rc;

	if ((m = more(c, err)) < 0)
		return -1;
	if (m && c->p[c->i] == '"') {
		c->i++;
		if (read_quoted(c, err) < 0)
			return -1;
	}
	for (;;) {
		if ((m = more(c, err)) < 0)
			return -1;
		if (!m)
			break;
		from = c->i;
		c->i = field_stop(c, c->i);
		if (field_add(c, from, c->i, err) < 0)
			return -1;
		if (c->i < c->n)
			break;
	}
	text = c->segn ? c->seg : c->field.data ? c->field.data : "";
	len = c->segn ? c->segn : c->field.len;
	rc = kg_sheet_rows_put_text(&c->rows, c->row, c->col, text, len, err);
	c->segn = 0;
	kg_buf_reset(&c->field);
	return rc;
}

/* Consume the delimiter or line end after a field; 1 if the record
 * ended, -1 on error. */
static int
field_end(struct csv *c, struct kg_err *err)
{
	int m;

	if ((m = more(c, err)) < 0)
		return -1;
	if (m && c->p[c->i] == c->delim) {
		c->i++;
		c->col++;
		return 0;
	}
	if (m && c->p[c->i] == '\r') {
		c->i++;
		if ((m = more(c, err)) < 0)
			return -1;
	}
	if (m && c->p[c->i] == '\n')
		c->i++;
	c->line++;
	return 1;
}

static int
parse(struct csv *c, struct kg_err *err)
{
	int rc, m;

	while ((m = more(c, err)) > 0) {
		if (read_field(c, err) < 0 || (rc = field_end(c, err)) < 0)
			return -1;
		if (!rc)
			continue;
		rc = kg_sheet_rows_end(&c->rows, c->row, err);
		if (rc)
			return rc;
		c->row++;
		c->col = 0;
	}
	/* "a;b;" at the very end: the record's last field is empty */
	if (!m && c->col)
		return kg_sheet_rows_end(&c->rows, c->row, err);
	return m;
}

/* The first bytes: the BOM skipped, the delimiter told
 * from the first record (read whole, the buffer grown if need be). */
static int
start(struct csv *c, struct kg_err *err)
{
	int whole;
	char *b;

	if (c->fd >= 0 && read_piece(c, 0, err) < 0)
		return -1;
	if (c->n >= 3 && !memcmp(c->p, "\xef\xbb\xbf", 3))
		c->i = 3;
	c->delim = detect_delim(c->p + c->i, c->n - c->i, &whole);
	while (!whole && c->fd >= 0 && c->off < c->len) {
		if (!(b = realloc(c->buf, c->cap * 2)))
			return kg_err_set(err, 500, "internal",
					  "out of memory");
		c->buf = b;
		c->cap *= 2;
		if (read_piece(c, c->n, err) < 0)
			return -1;
		c->delim = detect_delim(c->p + c->i, c->n - c->i, &whole);
	}
	c->stop[(unsigned char)c->delim] = 1;
	c->stop['\n'] = c->stop['\r'] = 1;
	return 0;
}

static int
read_csv(struct csv *c, const struct kg_sheet_limits *lim,
	 kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	struct kg_sheet_limits def;
	int rc = -1;

	if (!lim) {
		kg_sheet_limits_default(&def);
		lim = &def;
	}
	if (c->len > lim->max_file)
		return kg_err_set(err, 413, "too_large", "the file is larger "
				  "than %zu MiB", lim->max_file >> 20);
	if (sniff(c, err) < 0 ||
	    (c->fd < 0 && check_chunk(c, c->p, c->n, 1, err) < 0))
		return -1;
	if (c->fd >= 0 && !(c->buf = malloc(c->cap)))
		return kg_err_set(err, 500, "internal", "out of memory");
	c->line = c->row = 1;
	if (start(c, err) < 0)
		goto out;
	if (kg_sheet_rows_init(&c->rows, lim, fn, arg, err) < 0)
		goto out;
	rc = parse(c, err);
	kg_sheet_rows_free(&c->rows);
out:
	kg_buf_free(&c->field);
	free(c->buf);
	return rc;
}

int
kg_csv_read(const void *data, size_t len, const struct kg_sheet_limits *lim,
	    kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	struct csv c = {.p = data, .n = len, .fd = -1, .len = len};

	return read_csv(&c, lim, fn, arg, err);
}

int
kg_csv_read_fd_chunked(int fd, size_t len, size_t chunk,
		       const struct kg_sheet_limits *lim, kg_sheet_row_fn fn,
		       void *arg, struct kg_err *err)
{
	struct csv c = {.fd = fd, .len = len, .cap = chunk < 4 ? 4 : chunk};

	return read_csv(&c, lim, fn, arg, err);
}

int
kg_csv_read_fd(int fd, size_t len, const struct kg_sheet_limits *lim,
	       kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	return kg_csv_read_fd_chunked(fd, len, KG_CSV_CHUNK, lim, fn, arg,
				      err);
}
