/*
 * kg_xlsxw - an .xlsx built with libxlsxwriter, as bytes.
 *
 * libxlsxwriter 1.1.4 (Debian 12) writes only to files, so the workbook
 * goes to a private temporary file ($TMPDIR or /tmp, mode 0600) that is
 * read back and removed.  Used for the template and the batch summary.
 */
#ifndef KG_XLSXW_H
#define KG_XLSXW_H

#include <xlsxwriter.h>

#include "kg_buf.h"

#define KG_XLSXW_MAX (16u << 20)

/* Calls fill(wb, arg) on a new workbook titled `title` and appends the
 * finished file to out; -1 on failure. */
int kg_xlsxw_build(const char *title, void (*fill)(lxw_workbook *, void *),
		   void *arg, struct kg_buf *out);

#endif
