/*
 * kg_zipw - writing a zip archive in memory (.docx packages, batch .zip).
 *
 * The archive is written into a growable libzip buffer source; an extra
 * reference (zip_source_keep) keeps the source alive after zip_close()
 * so its bytes can be read back.  A seekable target lets libzip patch
 * sizes into the local headers instead of writing data descriptors,
 * which LibreOffice >= 24.8 rejects on STORED entries; nothing here
 * needs Zip64, which breaks Excel where it is not needed.  Entry times
 * are UTC, so the same content gives the same bytes on every host.
 *
 *   struct kg_zipw z;
 *   kg_zipw_open(&z, err);
 *   kg_zipw_add(&z, "word/document.xml", &buf, 0, created);
 *   kg_zipw_close(&z, &out);      (or kg_zipw_discard(&z) on failure)
 */
#ifndef KG_ZIPW_H
#define KG_ZIPW_H

#include <time.h>
#include <zip.h>

#include "kg_buf.h"
#include "kg_err.h"

struct kg_zipw {
	zip_t *za;
	zip_source_t *src;
};

/* An empty archive; -1 with a 500 in err. */
int kg_zipw_open(struct kg_zipw *z, struct kg_err *err);

/* A new entry holding `data`, which is taken (the buffer ends up
 * empty): DEFLATE, or STORE when the data is compressed already. */
int kg_zipw_add(struct kg_zipw *z, const char *name, struct kg_buf *data,
		int store, time_t mtime);

/* Finish the archive and append its bytes to out; z is released. */
int kg_zipw_close(struct kg_zipw *z, struct kg_buf *out);

/* Release z without writing (error paths; safe after close). */
void kg_zipw_discard(struct kg_zipw *z);

/* libzip's message for the last failure. */
const char *kg_zipw_error(struct kg_zipw *z);

#endif
