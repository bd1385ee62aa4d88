/*
 * kg_spool - an upload's bytes: in memory while small, in an unlinked
 * temporary file once they pass 64 KiB (what PHP and mature web servers
 * do with request bodies).  A 10 MiB workbook then costs the process a
 * read buffer, not 10 MiB of heap: libzip reads the file through a
 * descriptor (kg_sheet_read_spool).  The file is created with O_TMPFILE
 * (else mkstemp + unlink) in $TMPDIR or /tmp, readable by this process
 * only, and disappears with the descriptor - also when the process is
 * killed.  If no temporary file can be made the bytes stay in memory (a
 * warning is logged), so an upload never fails for want of a /tmp.
 *
 * A zeroed struct is an empty spool; kg_spool_free() releases it.
 */
#ifndef KG_SPOOL_H
#define KG_SPOOL_H

#include <stddef.h>

#include "kg_buf.h"

#define KG_SPOOL_MEM_MAX ((size_t)64 * 1024)

struct kg_spool {
	struct kg_buf mem;	/* the bytes, while in memory */
	int in_file;		/* 1: they are in fd */
	int no_file;		/* no temporary file could be made */
	int fd;
	size_t len;		/* bytes written */
};

/* Append; 0, or -1 when the file cannot be written (errno) or memory
 * runs out. */
int kg_spool_write(struct kg_spool *s, const void *data, size_t len);
void kg_spool_free(struct kg_spool *s);

#endif
