#include "kg_csv.h"
#include "kg_utf8.h"

#include <string.h>

struct csv {
	const char *p;
	size_t n, i;
	char delim;
	unsigned line;		/* physical line, for error messages */
	unsigned row, col;	/* record number (1-based), field index */
	struct kg_sheet_rows rows;
	struct kg_buf field;
};

/* Refuse what is not UTF-8 text before parsing anything, so no row is
 * delivered from a file that will be refused anyway. */
static int
check_encoding(const char *p, size_t n, struct kg_err *err)
{
	size_t bad = kg_utf8_check(p, n), i;
	unsigned line = 1;

	if (memchr(p, '\0', n))
		return kg_err_set(err, 400, "not_csv", "the file contains NUL "
				  "bytes: it is not a CSV text file");
	if (bad == n)
		return 0;
	for (i = 0; i < bad; i++)
		line += p[i] == '\n';
	return kg_err_set(err, 400, "not_utf8",
			  "the file is not UTF-8 text (line %u); in Excel "
			  "use Zapisz jako -> \"CSV UTF-8 (rozdzielany "
			  "przecinkami)\"", line);
}

/* `;` or `,`: whichever occurs more often outside quotes in the first
 * record; `;` on a tie (Polish Excel's choice). */
static char
detect_delim(const char *p, size_t n)
{
	size_t i, semi = 0, comma = 0;
	int quoted = 0;

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
	return comma > semi ? ',' : ';';
}

static int
field_add(struct csv *c, const char *s, size_t len, struct kg_err *err)
{
	char name[8];

	if (c->field.len + len > KG_SHEET_MAX_CELL) {
		kg_sheet_col_name(c->col, name);
		return kg_err_set(err, 400, "cell_too_long",
				  "cell %s%u holds more than %zu KiB of text",
				  name, c->row, KG_SHEET_MAX_CELL >> 10);
	}
	return kg_buf_append(&c->field, s, len) < 0
		       ? kg_err_set(err, 500, "internal", "out of memory")
		       : 0;
}

/* The quoted part of a field, after its opening quote. */
static int
read_quoted(struct csv *c, struct kg_err *err)
{
	unsigned start = c->line;
	size_t from = c->i;

	for (;;) {
		if (c->i >= c->n)
			return kg_err_set(err, 400, "bad_csv",
					  "a quoted field that starts on line "
					  "%u never ends", start);
		if (c->p[c->i] == '"') {
			if (field_add(c, c->p + from, c->i - from, err) < 0)
				return -1;
			c->i++;
			if (c->i >= c->n || c->p[c->i] != '"')
				return 0;
			from = c->i++;	/* "" -> keep one quote */
			continue;
		}
		if (c->p[c->i] == '\n' ||
		    (c->p[c->i] == '\r' && (c->i + 1 >= c->n ||
					    c->p[c->i + 1] != '\n')))
			c->line++;
		c->i++;
	}
}

/* One field up to (not including) its delimiter or line end. */
static int
read_field(struct csv *c, struct kg_err *err)
{
	size_t from;

	kg_buf_reset(&c->field);
	if (c->i < c->n && c->p[c->i] == '"') {
		c->i++;
		if (read_quoted(c, err) < 0)
			return -1;
	}
	from = c->i;
	while (c->i < c->n && c->p[c->i] != c->delim &&
	       c->p[c->i] != '\n' && c->p[c->i] != '\r')
		c->i++;
	if (field_add(c, c->p + from, c->i - from, err) < 0)
		return -1;
	return kg_sheet_rows_put_text(&c->rows, c->row, c->col,
				      c->field.data ? c->field.data : "",
				      c->field.len, err);
}

/* Consume the delimiter or line end after a field; 1 if the record
 * ended. */
static int
field_end(struct csv *c)
{
	if (c->i < c->n && c->p[c->i] == c->delim) {
		c->i++;
		c->col++;
		return 0;
	}
	if (c->i < c->n && c->p[c->i] == '\r')
		c->i++;
	if (c->i < c->n && c->p[c->i] == '\n')
		c->i++;
	c->line++;
	return 1;
}

static int
parse(struct csv *c, struct kg_err *err)
{
	int rc;

	while (c->i < c->n) {
		if (read_field(c, err) < 0)
			return -1;
		if (!field_end(c))
			continue;
		rc = kg_sheet_rows_end(&c->rows, c->row, err);
		if (rc)
			return rc;
		c->row++;
		c->col = 0;
	}
	return 0;
}

int
kg_csv_read(const void *data, size_t len, const struct kg_sheet_limits *lim,
	    kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	struct kg_sheet_limits def;
	struct csv c = {0};
	int rc;

	if (!lim) {
		kg_sheet_limits_default(&def);
		lim = &def;
	}
	if (len > lim->max_file)
		return kg_err_set(err, 413, "too_large", "the file is larger "
				  "than %zu MiB", lim->max_file >> 20);
	c.p = data;
	c.n = len;
	if (len >= 2 && ((c.p[0] == '\xff' && c.p[1] == '\xfe') ||
			 (c.p[0] == '\xfe' && c.p[1] == '\xff')))
		return kg_err_set(err, 400, "not_utf8",
				  "the file is UTF-16 text; in Excel use "
				  "Zapisz jako -> \"CSV UTF-8 (rozdzielany "
				  "przecinkami)\"");
	if (len >= 3 && !memcmp(c.p, "\xef\xbb\xbf", 3))
		c.i = 3;
	if (check_encoding(c.p + c.i, len - c.i, err) < 0)
		return -1;
	c.delim = detect_delim(c.p + c.i, len - c.i);
	c.line = c.row = 1;
	if (kg_sheet_rows_init(&c.rows, lim, fn, arg, err) < 0)
		return -1;
	rc = parse(&c, err);
	kg_sheet_rows_free(&c.rows);
	kg_buf_free(&c.field);
	return rc;
}
