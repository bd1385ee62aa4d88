#include "kg_xlsxw.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
kg_xlsxw_build(const char *title, void (*fill)(lxw_workbook *, void *),
	       void *arg, struct kg_buf *out)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	lxw_workbook *wb;
	int fd, rc = -1;

	snprintf(path, sizeof(path), "%s/kartograf-xlsx-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	wb = workbook_new(path);
	if (!wb)
		goto out;
	workbook_set_properties(wb, &(lxw_doc_properties){
					    .title = (char *)title,
					    .author = "Kartograf"});
	fill(wb, arg);
	if (workbook_close(wb) != LXW_NO_ERROR)
		goto out;
	rc = kg_buf_read_file(out, path, KG_XLSXW_MAX);
out:
	unlink(path);
	return rc;
}
