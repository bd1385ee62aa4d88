/*
 * kg_template - the spreadsheet template users download
 * (GET /api/template.xlsx), written with libxlsxwriter from the column
 * table of kg_rows, so the template, the validator and the docs cannot
 * drift apart.  Sheet "Projekty": bold frozen header, column widths, one
 * example row, data validation (dates, budget > 0, text lengths);
 * sheet "Instrukcja": every column explained.
 */
#ifndef KG_TEMPLATE_H
#define KG_TEMPLATE_H

#include "kg_buf.h"
#include "kg_err.h"

int kg_template_xlsx(struct kg_buf *out, struct kg_err *err);

#endif
