/*
 * kg_xlsx - a streaming reader for the first worksheet of an .xlsx file.
 *
 * Uploads are untrusted and come from Excel, LibreOffice, Google Sheets,
 * openpyxl and SheetJS, each writing SpreadsheetML its own way, so the
 * reader follows the package instead of assuming Excel's layout:
 *
 *   _rels/.rels -> workbook part -> its rels -> first worksheet
 *
 * (the first VISIBLE sheet in workbook order; a hidden first sheet is
 * passed over, because the user uploading the file does not see it).
 * Relationship targets may be relative or absolute ("/xl/..."); element
 * and attribute namespaces are compared by URI, never by prefix, and
 * both the Transitional (schemas.openxmlformats.org) and the Strict
 * (purl.oclc.org) namespaces are accepted.
 *
 * Streaming: the worksheet XML is inflated in 64 KiB pieces straight into
 * the parser's buffer and each row is handed to `fn` as soon as it ends,
 * so memory is bounded by the shared-string table
 * (lim->max_shared_strings) plus one row, however many rows the sheet
 * has.  <dimension> is never trusted.
 *
 * Parsers: expat parses every part.  The two big ones, the worksheet and
 * the shared strings, are first given to kg_xmlscan, a scanner for the
 * subset of XML exporters write (kg_xmlscan.h), with the same handlers;
 * on anything outside that subset - and on any error - it gives up and
 * expat reads the whole part again from its start (rows the scanner
 * already delivered are not delivered twice).  What the caller gets,
 * rows and errors, is therefore what expat alone gives
 * (tests/fuzz/fuzz_xlsx_scan.c), only sooner.
 *
 * Cells: shared strings (rich-text runs joined, phonetic <rPh> runs
 * skipped), inline strings (also empty ones; with a <v> beside the <is>,
 * the inline string), formula strings t="str" (the cached value),
 * numbers, booleans, errors, ISO dates t="d" (with their time).  A
 * number whose style (cellXfs -> numFmtId) is a date or time format --
 * built-in 14-22 and 45-47, or a custom format with d, y, h, s, [h] or
 * m outside quotes and brackets (m is minutes next to h or s, else a
 * month) -- becomes KG_CELL_DATE ("2026-03-01", "2026-03-01 13:20") or
 * KG_CELL_TIME ("13:20", "37:30:00"), see kg_sheet_serial_text(), in the
 * workbook's date system (1900 with Lotus's phantom 1900-02-29, or
 * date1904).  Cells without an `r`
 * attribute take the previous cell's column + 1, rows without one the
 * previous row + 1.
 *
 * Merged cells: Excel stores the value of a merged range in its top-left
 * cell only; the other cells of the range are read as empty, exactly as
 * stored.  A header "Budżet" merged over C1:D1 therefore names column C
 * and leaves D without a header, which the validator reports.
 *
 * Limits and refusals (all 400 unless noted, with `code`):
 *   too_large (413)       input longer than lim->max_file
 *   not_xlsx              not a zip, another OLE2 document, or a zip
 *                         without a workbook (e.g. a .docx)
 *   unsupported_format    an old .xls (OLE2 with a Workbook stream)
 *   encrypted             a password-protected workbook (OLE2 with an
 *                         EncryptionInfo / EncryptedPackage stream)
 *   damaged               truncated or corrupt zip data (CRC, inflate,
 *                         no central directory); the message says to
 *                         open and save the file in Excel
 *   zip_bomb              more than lim->max_entries entries, more than
 *                         lim->max_uncompressed bytes actually inflated,
 *                         or an entry inflating more than lim->max_ratio
 *                         times its compressed size (checked once it
 *                         passes 1 MiB; sizes claimed by zip headers are
 *                         never used for anything but this ratio)
 *   xml_forbidden         any DOCTYPE / entity declaration (XXE, billion
 *                         laughs: OOXML never needs one)
 *   bad_xlsx              malformed XML or an impossible reference
 *   shared_strings_too_large, too_many_columns, too_many_rows (422)
 * Entry names that are absolute or contain a ".." segment are ignored,
 * as if they were not in the archive.  What Excel opens is opened:
 * backslashes in part names match slashes, an entry name held twice is
 * its last copy, local headers are not compared with the central
 * directory (no ZIP_CHECKCONS; every inflated byte is still
 * CRC-checked), and a broken _rels/.rels falls back to xl/workbook.xml.
 */
#ifndef KG_XLSX_H
#define KG_XLSX_H

#include <stddef.h>

#include "kg_err.h"
#include "kg_sheet.h"

/*
 * Read the first worksheet of the .xlsx in data[0..len-1], calling `fn`
 * for every non-blank row.  `lim` NULL means kg_sheet_limits_default().
 * Returns 0 when every row was delivered, 1 when `fn` asked to stop, -1
 * with `err` filled otherwise.  Rows already delivered before an error
 * stay delivered: callers that must be all-or-nothing collect first.
 */
int kg_xlsx_read(const void *data, size_t len,
		 const struct kg_sheet_limits *lim, kg_sheet_row_fn fn,
		 void *arg, struct kg_err *err);

/* The same for a zip in the file fd (len bytes from offset 0, read by
 * libzip through a dup of fd; kg_sheet_read_spool).  A file that is not
 * a zip is 400 "not_xlsx" (an OLE2 file needs kg_xlsx_read). */
int kg_xlsx_read_fd(int fd, size_t len, const struct kg_sheet_limits *lim,
		    kg_sheet_row_fn fn, void *arg, struct kg_err *err);

/*
 * For tests/bench: the floor under kg_xlsx_read() on this file.  The
 * first worksheet is streamed as kg_xlsx_read() streams it, twice:
 * inflated only (libzip + zlib, CRC checked), then inflated and parsed by
 * the same expat parser with no handlers.  `inflate_ms` is the first,
 * `xml_ms` the second minus the first (CPU time of the process, which
 * other work on the machine inflates less than wall clock).  Whatever
 * kg_xlsx_read() takes beyond their sum is ours: the handlers, the
 * cells, the shared strings and styles.  0, or -1 with `err`.
 */
struct kg_xlsx_floor {
	double inflate_ms, xml_ms;
	double scan_ms;		/* the same parsed by kg_xmlscan instead */
	int scan_bailed;	/* ... which gave up on it (scan_ms moot) */
};

int kg_xlsx_floor(const void *data, size_t len,
		  const struct kg_sheet_limits *lim, struct kg_xlsx_floor *out,
		  struct kg_err *err);

/*
 * For tests and the benchmark: kg_xlsx_read() with the big parts read
 * by the scanner with expat behind it (KG_XLSX_SCAN, as kg_xlsx_read)
 * or by expat alone (KG_XLSX_EXPAT), `chunk` bytes inflated per parser
 * call (0: as kg_xlsx_read; small ones put token boundaries everywhere).
 * `scanned` and `fell_back` count the parts the scanner read whole and
 * those it left to expat.
 */
enum kg_xlsx_parser { KG_XLSX_SCAN, KG_XLSX_EXPAT };

struct kg_xlsx_how {
	enum kg_xlsx_parser parser;
	size_t chunk;
	unsigned scanned, fell_back;	/* out */
};

int kg_xlsx_read_how(const void *data, size_t len,
		     const struct kg_sheet_limits *lim,
		     struct kg_xlsx_how *how, kg_sheet_row_fn fn, void *arg,
		     struct kg_err *err);

#endif
