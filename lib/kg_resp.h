/*
 * kg_resp - what a handler sends.  Every answer carries the request id
 * (X-Request-Id), X-Content-Type-Options: nosniff and, unless the
 * handler set its own, Cache-Control: no-store.  One answer per
 * request: a second start fails.
 */
#ifndef KG_RESP_H
#define KG_RESP_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "kg_err.h"
#include "kg_req.h"

/* Add a response header (before the response is sent). */
void kg_resp_header(struct kg_req *req, const char *name, const char *value);
/* Send `body` (consumed, may be NULL for an empty object). */
int kg_resp_json(struct kg_req *req, int status, cJSON *body);
/* Send `len` bytes that already are JSON text (kg_jsonw, kg_*_json). */
int kg_resp_json_text(struct kg_req *req, int status, const char *json,
		      size_t len);
/* {"error": code, "message": text, "request_id": id} with err->status
 * (500 when it has none). */
int kg_resp_error(struct kg_req *req, const struct kg_err *err);

/* Streaming responses (files, event streams). */
int kg_resp_start(struct kg_req *req, int status, const char *content_type);
int kg_resp_write(struct kg_req *req, const void *data, size_t len);
int kg_resp_flush(struct kg_req *req);

#endif
