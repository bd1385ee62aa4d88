#include "kg_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
kg_err_set(struct kg_err *err, int status, const char *code,
	   const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

void
kg_err_clear(struct kg_err *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}
