#include "kg_spool.h"
#include "kg_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef O_TMPFILE
#define O_TMPFILE 0
#endif

static int
temp_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd = -1;

	if (!dir || !*dir)
		dir = "/tmp";
	if (O_TMPFILE)
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && snprintf(path, sizeof(path), "%s/kartograf-XXXXXX",
			       dir) < (int)sizeof(path) &&
	    (fd = mkstemp(path)) >= 0)
		unlink(path);
	return fd;
}

/* The bytes so far into a new temporary file; 0 (also when none could
 * be made: they stay in memory) or -1. */
static int
spill(struct kg_spool *s)
{
	int fd = temp_file();

	if (fd < 0) {
		s->no_file = 1;
		KG_WARN("upload kept in memory: no temporary file in "
			"$TMPDIR or /tmp (%s)", strerror(errno));
		return 0;
	}
	if (kg_buf_write_all(fd, s->mem.data, s->mem.len) < 0) {
		close(fd);
		return -1;
	}
	kg_buf_free(&s->mem);
	s->fd = fd;
	s->in_file = 1;
	return 0;
}

int
kg_spool_write(struct kg_spool *s, const void *data, size_t len)
{
	if (s->in_file) {
		if (kg_buf_write_all(s->fd, data, len) < 0)
			return -1;
	} else if (kg_buf_append(&s->mem, data, len) < 0 ||
		   (s->mem.len > KG_SPOOL_MEM_MAX && !s->no_file &&
		    spill(s) < 0)) {
		return -1;
	}
	s->len += len;
	return 0;
}

void
kg_spool_free(struct kg_spool *s)
{
	if (s->in_file)
		close(s->fd);
	kg_buf_free(&s->mem);
	s->in_file = 0;
	s->no_file = 0;
	s->len = 0;
}
