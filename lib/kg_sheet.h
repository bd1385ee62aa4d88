/*
 * kg_sheet - the row model shared by the spreadsheet readers.
 *
 * kg_xlsx and kg_csv both turn an uploaded file into the same thing: a
 * sequence of rows handed to a callback, one at a time, so neither the
 * reader nor the caller ever holds the whole sheet.  This module owns what
 * the two have in common, so they agree to the byte:
 *
 *  - the cell and limit types and the row callback;
 *  - text normalisation (kg_sheet_norm), because a header typed in Excel,
 *    in LibreOffice and pasted from a web page must compare equal;
 *  - the row assembler (struct kg_sheet_rows), which owns the per-row
 *    cell array, skips blank rows and enforces the row and column limits,
 *    so both readers report those in the same words.
 *
 * Rows and columns are what the user sees in Excel: rows 1-based, columns
 * 0-based internally and printed as letters by kg_sheet_col_name().
 */
#ifndef KG_SHEET_H
#define KG_SHEET_H

#include <stddef.h>

#include "kg_buf.h"
#include "kg_err.h"

enum kg_cell_type {
	KG_CELL_EMPTY,
	KG_CELL_TEXT,
	KG_CELL_NUMBER,
	KG_CELL_BOOL,
	KG_CELL_DATE,
	KG_CELL_ERROR,
	KG_CELL_TIME
};

/*
 * One cell.  `text` is never NULL ("" for EMPTY) and is always
 * normalised UTF-8 as the user sees it:
 *   TEXT    the string, normalised by kg_sheet_norm()
 *   NUMBER  shortest round-trip decimal ("1234.5", "0.1", "1e+20")
 *   BOOL    "TRUE" / "FALSE"; number is 1 / 0
 *   DATE    "YYYY-MM-DD" for a date format, "YYYY-MM-DD HH:MM" when the
 *           format also shows the time ("YYYY-MM-DD HH:MM:SS" when it
 *           shows seconds); number is the serial exactly as stored
 *   TIME    a time of day or a duration, as its format shows it:
 *           "13:20", "13:20:05" (h:mm, h:mm:ss: hours 00-23), "37:30:00"
 *           ([h]:mm:ss elapsed: hours not wrapped), "20:05" (mm:ss);
 *           rounded to the second; number is the stored day fraction
 *   ERROR   the error literal ("#N/A", "#DIV/0!")
 * `text` is valid only during the callback that received it.
 */
struct kg_cell {
	enum kg_cell_type type;
	const char *text;
	double number;
};

struct kg_sheet_limits {
	size_t max_file;	   /* input bytes; over it -> 413 */
	size_t max_uncompressed;   /* xlsx: bytes inflated, all entries */
	unsigned max_ratio;	   /* xlsx: inflated / compressed per entry */
	unsigned max_entries;	   /* xlsx: zip entries */
	size_t max_shared_strings; /* xlsx: bytes of the shared-string table */
	unsigned max_rows;	   /* non-blank rows after the header */
	unsigned max_cols;	   /* columns a non-empty cell may sit in */
};

/* 10 MiB file, 100 MiB inflated, 100:1, 1000 entries, 32 MiB of shared
 * strings, 1000 data rows (+ the header row), 64 columns (A..BL). */
void kg_sheet_limits_default(struct kg_sheet_limits *l);

/*
 * Called once per non-blank row, in file order, rows strictly increasing.
 * `row` is 1-based as in Excel (blank rows are skipped but keep their
 * numbers).  cells[0..ncols-1] is indexed by 0-based column (A = 0);
 * ncols is the last non-empty column of THIS row + 1 (so it differs from
 * row to row); gaps are KG_CELL_EMPTY.  Return non-zero to stop reading.
 */
typedef int (*kg_sheet_row_fn)(void *arg, unsigned row,
			       const struct kg_cell *cells, unsigned ncols);

/* 0 -> "A", 25 -> "Z", 26 -> "AA", 16383 -> "XFD". */
void kg_sheet_col_name(unsigned col, char out[8]);

/*
 * Normalise one cell's text and APPEND it to `out`:
 *  - control characters (C0, DEL, C1; so also newlines and tabs inside a
 *    cell) and Unicode spaces (U+00A0 NBSP, U+1680, U+2000-U+200A,
 *    U+2028, U+2029, U+202F, U+205F, U+3000) become a plain space;
 *  - zero-width space U+200B, word joiner U+2060 and BOM U+FEFF are
 *    dropped;
 *  - runs of spaces collapse to one; leading and trailing space trimmed;
 *  - a Latin base letter followed by a combining acute (U+0301), ogonek
 *    (U+0328) or dot above (U+0307) is composed to the precomposed letter
 *    when one exists (a+ogonek -> ą, z+dot -> ż, o+acute -> ó ...),
 *    because macOS and some web forms hand out NFD text that would not
 *    match a header typed on Windows.  ł has no decomposition in
 *    Unicode, so there is nothing to compose for it;
 *  - invalid UTF-8 (bad lead or continuation bytes, overlong forms,
 *    surrogates, > U+10FFFF) is REPLACED by U+FFFD, one per bad byte.
 *    The xlsx reader never gets here with it (expat refuses malformed
 *    UTF-8 as not well-formed XML) and the CSV reader refuses the whole
 *    file first, so a replacement only shows up for callers that pass
 *    arbitrary bytes.
 * Returns the number of replacements made (>= 0), or -1 on out of
 * memory.  Idempotent: norm(norm(x)) == norm(x).
 */
int kg_sheet_norm(const char *s, size_t len, struct kg_buf *out);


/* Shortest decimal that reads back as `v` ("%.15g".."%.17g"); -0 -> "0".
 * out must hold 32 bytes. */
void kg_sheet_number_text(double v, char out[32]);

/*
 * A serial date -> "YYYY-MM-DD" (fraction dropped).  In the 1900 system
 * serial 1 is 1900-01-01 and serial 60 is Lotus 1-2-3's 1900-02-29,
 * which Excel shows although the day never existed; serials from 61 on
 * are therefore one day "early" when counted naively, which this
 * corrects.  In the 1904 system serial 0 is 1904-01-01.  Returns -1 (and
 * writes nothing) outside 1..2958465 (1900) / 0..2957003 (1904), i.e.
 * outside what Excel itself shows as a date.
 */
int kg_sheet_serial_date(double serial, int date1904, char out[11]);

/*
 * What a number format shows of a serial (kg_xlsx classifies the
 * format; these are the bits): a date (d, y, or m that is a month), a
 * time (h, s, or m next to them: minutes), hours, seconds, and elapsed
 * time ([h], [m], [s]: not wrapped at a day or an hour).
 */
#define KG_FMT_DATE 1u
#define KG_FMT_TIME 2u
#define KG_FMT_HOUR 4u
#define KG_FMT_SEC 8u
#define KG_FMT_ELAPSED 16u

/*
 * A serial shown through a format with the bits above -> the cell's text
 * (see struct kg_cell: "2026-03-01", "2026-03-01 13:20", "13:20:05",
 * "37:30:00", "20:05"), rounded to the second.  Returns KG_CELL_DATE or
 * KG_CELL_TIME, or -1 (nothing written) when Excel itself would not show
 * it as one: a negative serial, a date out of range, fmt without DATE or
 * TIME.  out must hold 32 bytes.
 */
int kg_sheet_serial_text(double serial, int date1904, unsigned fmt,
			 char out[32]);

/* "YYYY-MM-DD" (a real calendar date, 1900..9999) -> its serial in the
 * given date system; -1 if the text is no such date. */
int kg_sheet_date_serial(const char *iso, int date1904, double *serial);

/* Longest text a single cell may hold before normalisation.  Excel's own
 * limit is 32,767 characters (at most ~128 KiB of UTF-8). */
#define KG_SHEET_MAX_CELL ((size_t)256 * 1024)

/*
 * The row assembler, for the readers (not for their callers).  A reader
 * puts the cells of the current row in any column order, then ends the
 * row; the assembler skips blank rows, counts the others against
 * lim->max_rows (+1 for the header), and calls the user's function.
 * Memory is O(max_cols + one row's text), whatever the number of rows.
 */
struct kg_sheet_rows {
	const struct kg_sheet_limits *lim;
	kg_sheet_row_fn fn;
	void *arg;
	struct kg_cell *cells;	/* lim->max_cols */
	size_t *off;		/* text offset per cell into `text` */
	struct kg_buf text;	/* this row's cell texts, NUL-separated */
	unsigned ncols;		/* last non-empty column + 1 */
	unsigned nrows;		/* non-blank rows delivered so far */
	unsigned last_row;	/* row number of the last ended row, 0 = none */
};

int kg_sheet_rows_init(struct kg_sheet_rows *r,
		       const struct kg_sheet_limits *lim, kg_sheet_row_fn fn,
		       void *arg, struct kg_err *err);
void kg_sheet_rows_free(struct kg_sheet_rows *r);

/* Put a cell whose text is already normalised (copied).  An empty cell
 * (KG_CELL_EMPTY, or TEXT that is "") is ignored wherever it lies; a
 * non-empty one at col >= max_cols is a 400 "too_many_columns". */
int kg_sheet_rows_put(struct kg_sheet_rows *r, unsigned row, unsigned col,
		      enum kg_cell_type type, const char *text, size_t len,
		      double number, struct kg_err *err);

/* Normalise raw text and put it as a TEXT cell (EMPTY if nothing is
 * left of it). */
int kg_sheet_rows_put_text(struct kg_sheet_rows *r, unsigned row,
			   unsigned col, const char *raw, size_t len,
			   struct kg_err *err);

/*
 * End row `row` (1-based, must be above the previous one): deliver it if
 * it is not blank and reset for the next row.  Returns 0 to go on, 1 if
 * the callback asked to stop, -1 on error: 422 "too_many_rows" when the
 * row is data row number max_rows + 1, 400 when rows go backwards.
 */
int kg_sheet_rows_end(struct kg_sheet_rows *r, unsigned row,
		      struct kg_err *err);

/* ---- reading an upload (kg_sheet_read.c) ---- */

/* The Content-Types a spreadsheet may arrive with as a raw body. */
#define KG_SHEET_XLSX_TYPE \
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#define KG_SHEET_RAW_TYPES \
	{KG_SHEET_XLSX_TYPE, "text/csv", "application/octet-stream", NULL}

/*
 * Read an uploaded spreadsheet in whichever format it is, with the same
 * contract as kg_xlsx_read().  The content decides where it can: the
 * zip signature is .xlsx; the signature of the old binary .xls gets a
 * 400 "unsupported_format" telling the user how to save it as .xlsx
 * (they do upload it); otherwise a `filename` ending in .csv or a
 * Content-Type `type` of text/csv (either may be NULL) is CSV, and
 * anything else 400 "not_xlsx".  An empty file is 400 "empty_file".
 */
int kg_sheet_read(const void *data, size_t len, const char *filename,
		  const char *type, const struct kg_sheet_limits *lim,
		  kg_sheet_row_fn fn, void *arg, struct kg_err *err);

/*
 * The same for an upload in a kg_spool (kg_spool.h): an .xlsx in a
 * temporary file is read by libzip through the descriptor (never whole
 * into memory); anything else there is mapped and read as above.
 */
struct kg_spool;
int kg_sheet_read_spool(const struct kg_spool *s, const char *filename,
			const char *type, const struct kg_sheet_limits *lim,
			kg_sheet_row_fn fn, void *arg, struct kg_err *err);

/* The file name without a spreadsheet extension (.xlsx, .csv), "" for
 * NULL, cut to size. */
void kg_sheet_title(const char *filename, char *out, size_t size);

#endif
