/*
 * kartograf-sheet - what the upload reader sees in a spreadsheet.
 *
 *   kartograf-sheet FILE
 *
 * Reads FILE exactly as POST /api/batches does (kg_xlsx for a zip or an
 * OLE2 file, kg_csv for anything else; the default limits but the row
 * limit, which is lifted) and prints one JSON object on stdout:
 *
 *   {"rows":[{"row":1,"cells":[["T","Nazwa"],["",""],["N","12.5"]]}]}
 *
 * a cell being [type, text] with type T text, N number, B boolean,
 * D date, H time, X error, "" empty -- or, when the reader refuses the
 * file, {"status":400,"error":"damaged","message":"..."}.  For support
 * ("why is my file refused?") and for the real-world corpus test, which
 * compares this with openpyxl.  Exit codes: 0 read, 1 refused, 2 usage.
 */
#include "kg_buf.h"
#include "kg_csv.h"
#include "kg_xlsx.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static int
add_row(void *arg, unsigned row, const struct kg_cell *cells, unsigned ncols)
{
	static const char *const type[] = {"", "T", "N", "B", "D", "X", "H"};
	cJSON *r = cJSON_CreateObject(), *list = cJSON_CreateArray(), *c;
	unsigned i;

	cJSON_AddNumberToObject(r, "row", row);
	for (i = 0; i < ncols; i++) {
		c = cJSON_CreateArray();
		cJSON_AddItemToArray(c, cJSON_CreateString(type[cells[i].type]));
		cJSON_AddItemToArray(c, cJSON_CreateString(cells[i].text));
		cJSON_AddItemToArray(list, c);
	}
	cJSON_AddItemToObject(r, "cells", list);
	cJSON_AddItemToArray(arg, r);
	return 0;
}

static int
is_spreadsheet_container(const struct kg_buf *b)
{
	return b->len >= 4 && (!memcmp(b->data, "PK", 2) ||
			       !memcmp(b->data, "\xd0\xcf\x11\xe0", 4));
}

int
main(int argc, char **argv)
{
	struct kg_sheet_limits lim;
	struct kg_buf file = {0};
	struct kg_err err = {0};
	cJSON *out = cJSON_CreateObject(), *rows = cJSON_CreateArray();
	char *text;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: kartograf-sheet FILE\n");
		return 2;
	}
	kg_sheet_limits_default(&lim);
	if (kg_buf_read_file(&file, argv[1], lim.max_file + 1) < 0) {
		perror(argv[1]);
		return 2;
	}
	lim.max_rows = 1000000;
	rc = is_spreadsheet_container(&file)
		     ? kg_xlsx_read(file.data, file.len, &lim, add_row, rows,
				    &err)
		     : kg_csv_read(file.data, file.len, &lim, add_row, rows,
				   &err);
	if (rc < 0) {
		cJSON_Delete(rows);
		cJSON_AddNumberToObject(out, "status", err.status);
		cJSON_AddStringToObject(out, "error", err.code);
		cJSON_AddStringToObject(out, "message", err.message);
	} else {
		cJSON_AddItemToObject(out, "rows", rows);
	}
	text = cJSON_PrintUnformatted(out);
	puts(text ? text : "{}");
	cJSON_free(text);
	cJSON_Delete(out);
	kg_buf_free(&file);
	return rc < 0 ? 1 : 0;
}
