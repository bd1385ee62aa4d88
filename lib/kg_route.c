/*
 * kg_route - route tables (kg_route.h): patterns with typed path
 * parameters, checked once at start and matched per request.
 */
#include "kg_route.h"
#include "kg_body.h"
#include "kg_log.h"
#include "kg_req.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int
fits_type(const char *type, size_t tlen, const char *s, size_t n)
{
	if (tlen == 4 && !strncmp(type, "uuid", 4))
		return kg_body_is_uuid(s, n);
	if (tlen == 3 && !strncmp(type, "int", 3)) {
		if (n < 1 || n > 18)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return 0;
		return 1;
	}
	if (tlen == 3 && !strncmp(type, "key", 3)) {
		if (n < 1 || n > 64)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!islower((unsigned char)s[i]) &&
			    !isdigit((unsigned char)s[i]) && s[i] != '_')
				return 0;
		return 1;
	}
	return 0;
}

/*
 * Matches `path` against `pattern` segment by segment.  On success the
 * parameters are recorded in req (names point into the pattern, values
 * are request-owned copies).  Returns 1 on match.
 */
static int
match_route(struct kg_req *req, const char *pattern, const char *path)
{
	const char *p = pattern, *s = path;

	req->nparams = 0;
	while (*p && *s) {
		size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");

		if (*p == '{') {
			const char *colon = memchr(p, ':', plen);
			size_t nlen = (size_t)(colon - p) - 1;
			char *name, *value;

			if (req->nparams == KG_REQ_MAX_PARAMS ||
			    !fits_type(colon + 1, plen - nlen - 3, s, slen))
				return 0;
			name = kg_req_alloc(req, nlen + 1);
			value = kg_req_alloc(req, slen + 1);
			if (!name || !value)
				return 0;
			memcpy(name, p + 1, nlen);
			name[nlen] = '\0';
			memcpy(value, s, slen);
			value[slen] = '\0';
			req->param_names[req->nparams] = name;
			req->param_values[req->nparams++] = value;
		} else if (plen != slen || strncmp(p, s, plen)) {
			return 0;
		}
		p += plen;
		s += slen;
		if (*p != *s)
			return 0;
		if (*p)
			p++, s++;
	}
	return !*p && !*s;
}

const struct kg_route *
kg_route_find(struct kg_req *req, const struct kg_route *routes,
	      struct kg_buf *allow)
{
	for (const struct kg_route *r = routes; r->method; r++) {
		if (!match_route(req, r->pattern, req->path))
			continue;
		if (!strcmp(r->method, req->method))
			return r;
		if (!strstr(kg_buf_str(allow), r->method))
			kg_buf_printf(allow, "%s%s", allow->len ? ", " : "",
				      r->method);
	}
	return NULL;
}

void
kg_route_check(const struct kg_route *routes)
{
	for (const struct kg_route *r = routes; r->method; r++) {
		for (const char *p = strchr(r->pattern, '{'); p;
		     p = strchr(p + 1, '{')) {
			const char *colon = strchr(p, ':');
			const char *close = strchr(p, '}');
			size_t tlen = colon && close ? (size_t)(close - colon) - 1
						     : 0;

			if (!colon || !close || colon > close ||
			    !((tlen == 4 && !strncmp(colon + 1, "uuid", 4)) ||
			      (tlen == 3 && !strncmp(colon + 1, "int", 3)) ||
			      (tlen == 3 && !strncmp(colon + 1, "key", 3)))) {
				KG_ERROR("bad route pattern %s", r->pattern);
				abort();
			}
		}
	}
}
