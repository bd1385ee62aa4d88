/*
 * kg_csv - a reader for .csv uploads, producing the same rows as kg_xlsx.
 *
 * What Polish users upload as CSV is what Excel writes with "Zapisz jako":
 * "CSV UTF-8" (UTF-8 with a BOM, `;` between fields, because the Polish
 * locale uses the comma as the decimal separator) or, from LibreOffice and
 * Google Sheets, UTF-8 without a BOM and `,`.  So:
 *
 *  - UTF-8 only, BOM optional.  Anything else (Windows-1250 from "CSV
 *    (rozdzielany przecinkami)", UTF-16 from "Tekst Unicode") is refused
 *    whole with 400 "not_utf8" and a hint how to save it, because
 *    guessing an 8-bit code page mangles ą/ę/ś silently; NUL bytes
 *    (a binary file renamed to .csv) give 400 "not_csv";
 *  - the delimiter is `;` or `,`, whichever occurs more often outside
 *    quotes in the first record (`;` on a tie, as Polish Excel writes);
 *  - RFC 4180 quoting: "..." fields may hold the delimiter, newlines and
 *    doubled "" quotes; text after a closing quote is kept as typed
 *    ("a"b -> ab); an unterminated quote is a 400 naming its line;
 *  - records end with CRLF, LF or a lone CR; the row number handed to
 *    the callback is the record number, i.e. the row Excel shows when it
 *    opens the file (a quoted newline does not start a new row);
 *  - every cell is KG_CELL_TEXT, normalised by kg_sheet_norm() exactly
 *    like an xlsx cell; numbers and dates stay text here ("1 234,56"),
 *    the validator parses them.
 * Blank rows, the header (+1) and the row/column limits work as in
 * kg_sheet; lim->max_file gives 413 "too_large".
 *
 * Streaming: the file is read KG_CSV_CHUNK bytes at a time (from a
 * descriptor, kg_csv_read_fd) and each row is handed on as soon as it
 * ends, so memory is one chunk plus one row whatever the file's size
 * (the first record is read whole, for the delimiter).  UTF-16 and a
 * NUL byte are looked for in the first 4 KiB before anything else (a
 * binary file is not_csv even if a byte before its first NUL is not
 * UTF-8); past that each chunk is checked before any of it is parsed
 * and the first problem of encoding in the file wins (not_utf8 or
 * not_csv) wherever the chunks are cut, though a problem of the rows
 * (too many columns or rows) in an earlier chunk is met first.  A file
 * that is bad further on may have had its first rows delivered when the
 * error comes (as with kg_xlsx: callers that must be all-or-nothing
 * roll back, as kg_batch_import does).
 */
#ifndef KG_CSV_H
#define KG_CSV_H

#include <stddef.h>

#include "kg_err.h"
#include "kg_sheet.h"

/* Same contract as kg_xlsx_read(): 0 all rows delivered, 1 stopped by
 * `fn`, -1 with `err` filled.  `lim` NULL means the defaults. */
int kg_csv_read(const void *data, size_t len,
		const struct kg_sheet_limits *lim, kg_sheet_row_fn fn,
		void *arg, struct kg_err *err);

#define KG_CSV_CHUNK ((size_t)64 * 1024)

/* The same for the len bytes of the file fd from offset 0 (read with
 * pread, in KG_CSV_CHUNK pieces; kg_sheet_read_spool). */
int kg_csv_read_fd(int fd, size_t len, const struct kg_sheet_limits *lim,
		   kg_sheet_row_fn fn, void *arg, struct kg_err *err);

/* The same in pieces of `chunk` bytes (at least 4), for the tests and the
 * fuzzer, which cut the file everywhere. */
int kg_csv_read_fd_chunked(int fd, size_t len, size_t chunk,
			   const struct kg_sheet_limits *lim,
			   kg_sheet_row_fn fn, void *arg, struct kg_err *err);

#endif
