/*
 * kg_err - the one error type of Kartograf.
 *
 * Every fallible lib function takes a `struct kg_err *` and fills it on
 * failure: an HTTP status (what the API answers), a short machine code
 * (the "error" field of the JSON error shape) and a human message (the
 * "message" field).  Programs that are not HTTP endpoints (worker, admin)
 * print the message and use the status only to tell transient failures
 * (503: database or Redis down) from permanent ones.
 */
#ifndef KG_ERR_H
#define KG_ERR_H

#include <stddef.h>

struct kg_err {
	int status;		/* HTTP status; 0 means "no error" */
	char code[32];		/* e.g. "not_found", "unavailable" */
	char message[256];	/* human text, never contains secrets */
};

/* Fill `err` (may be NULL) and return -1, so callers can write
 * `return kg_err_set(err, 404, "not_found", "no batch %s", id);` */
int kg_err_set(struct kg_err *err, int status, const char *code,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

void kg_err_clear(struct kg_err *err);

#endif
