/*
 * kg_sheet - one entry for every format an upload may be in
 * (kg_sheet_read in kg_sheet.h): the format is told by the content where
 * it can be, so a workbook renamed to .csv or sent as
 * application/octet-stream is still read as what it is.
 */
#include "kg_csv.h"
#include "kg_sheet.h"
#include "kg_spool.h"
#include "kg_xlsx.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcasecmp(s + n - m, suffix);
}

static int
is_csv_type(const char *type)
{
	return type && !strncasecmp(type, "text/csv", 8) &&
	       (!type[8] || type[8] == ';' || type[8] == ' ');
}

/* What an upload is, by its first bytes (len: how many there are) where
 * they tell, else by its name or type. */
enum format { FMT_NONE, FMT_ZIP, FMT_OLE2, FMT_CSV };

static enum format
format_of(const unsigned char *head, size_t len, const char *filename,
	  const char *type)
{
	if (len >= 4 && !memcmp(head, "PK\x03\x04", 4))
		return FMT_ZIP;
	if (len >= 4 && !memcmp(head, "\xd0\xcf\x11\xe0", 4))
		return FMT_OLE2;
	if ((filename && has_suffix(filename, ".csv")) || is_csv_type(type))
		return FMT_CSV;
	return FMT_NONE;
}

int
kg_sheet_read(const void *data, size_t len, const char *filename,
	      const char *type, const struct kg_sheet_limits *lim,
	      kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	if (len == 0)
		return kg_err_set(err, 400, "empty_file", "the file is empty");
	switch (format_of(data, len, filename, type)) {
	case FMT_ZIP:
	case FMT_OLE2:	/* an old .xls or a password-protected .xlsx, which
			 * the reader tells apart and refuses in its words */
		return kg_xlsx_read(data, len, lim, fn, arg, err);
	case FMT_CSV:
		return kg_csv_read(data, len, lim, fn, arg, err);
	default:
		return kg_err_set(err, 400, "not_xlsx",
				  "the file is neither an .xlsx workbook nor "
				  "a CSV file");
	}
}

int
kg_sheet_read_spool(const struct kg_spool *s, const char *filename,
		    const char *type, const struct kg_sheet_limits *lim,
		    kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	struct kg_sheet_limits def;
	unsigned char head[4];
	size_t got;
	void *map;
	int rc;

	if (!lim) {
		kg_sheet_limits_default(&def);
		lim = &def;
	}
	if (!s->in_file)
		return kg_sheet_read(s->mem.data, s->mem.len, filename, type,
				     lim, fn, arg, err);
	if (s->len > lim->max_file)	/* before anything is mapped */
		return kg_err_set(err, 413, "too_large", "the file is larger "
				  "than %zu MiB", lim->max_file >> 20);
	if (s->len == 0)
		return kg_err_set(err, 400, "empty_file", "the file is empty");
	got = s->len >= 4 && pread(s->fd, head, 4, 0) == 4 ? 4 : 0;
	switch (format_of(head, got, filename, type)) {
	case FMT_ZIP:
		return kg_xlsx_read_fd(s->fd, s->len, lim, fn, arg, err);
	case FMT_CSV:	/* streamed from the file, never whole in memory */
		return kg_csv_read_fd(s->fd, s->len, lim, fn, arg, err);
	default:	/* an OLE2 file (told apart by its directory) or
			 * neither: mapped */
		break;
	}
	map = mmap(NULL, s->len, PROT_READ, MAP_PRIVATE, s->fd, 0);
	if (map == MAP_FAILED)
		return kg_err_set(err, 500, "internal",
				  "cannot read the upload: %s",
				  strerror(errno));
	rc = kg_sheet_read(map, s->len, filename, type, lim, fn, arg, err);
	munmap(map, s->len);
	return rc;
}

void
kg_sheet_title(const char *filename, char *out, size_t size)
{
	size_t n = filename ? strlen(filename) : 0;

	if (n && has_suffix(filename, ".xlsx"))
		n -= 5;
	else if (n && has_suffix(filename, ".csv"))
		n -= 4;
	snprintf(out, size, "%.*s", (int)n, n ? filename : "");
}
