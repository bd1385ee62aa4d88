/*
 * kg_body - declared JSON request bodies: the field tables a route
 * names (kg_route.h), the checks the framework runs on a body before
 * the handler, and the typed getters the handler then reads with.
 */
#ifndef KG_BODY_H
#define KG_BODY_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "kg_err.h"

/*
 * Request bodies, declared.
 *
 *   static const struct kg_body_field edit[] = {
 *       {"body", KG_BODY_TEXT, .max = KG_SECTION_MAX_CHARS},
 *       {"reviewed", KG_BODY_BOOL},
 *       {0},
 *   };
 *   static const struct kg_body_field patch[] = {
 *       KG_BODY_VERSION_FIELD,
 *       {"sections", KG_BODY_MAP, KG_BODY_REQUIRED, .min = 1, .max = 64,
 *        .of = &(const struct kg_body_field){"section", KG_BODY_OBJECT,
 *                                            .min = 1, .fields = edit}},
 *       {0},
 *   };
 *   {"PATCH", "/api/projects/{id:uuid}", patch_project,
 *    KG_ROUTE_AUTH | KG_ROUTE_VERSION, patch},
 *
 * The body must then be a JSON object (415 unless the Content-Type is
 * JSON, 400 if it does not parse); an empty body counts as {}.  Its
 * text must be valid UTF-8 throughout (400 "invalid_utf8") and must not
 * hold the escape \u0000 (cJSON would silently cut the string there;
 * 400).  Then, field by field in table order, depth first:
 *
 *   400 "bad_request"  a field the table does not name ("unknown field
 *                      \"x\""), a field named twice, a KG_BODY_REQUIRED
 *                      field absent, a value of the wrong type or outside
 *                      its bounds, a map or array with too few or too many
 *                      entries, an object with fewer than min fields;
 *   422 "too_long"     a string or text longer than max characters;
 *   422 "too_short"    one shorter than min characters.
 *
 * The messages name the field by its path ("sections.summary.body must
 * be a string"), using the field's `what` when it has one ("revision_id
 * must be a revision's id").  null counts as absent for KG_BODY_NULLABLE
 * fields and is the wrong type for the others.  The first fault found
 * is the answer.
 *
 * Types and what min/max bound (max 0: no upper bound, except maps and
 * arrays, which hold KG_BODY_MAX_ENTRIES at most):
 *
 *   KG_BODY_STRING  a string; its length in characters (code points)
 *   KG_BODY_TEXT    a string of user text, cleaned in place before the
 *                   length is counted: "\r\n" and "\r" become "\n",
 *                   other control characters are removed (kg_utf8_clean)
 *   KG_BODY_INT     an integral number; its value (min 0 by default:
 *                   negative values need a negative min)
 *   KG_BODY_NUMBER  any number; its value
 *   KG_BODY_BOOL    true or false
 *   KG_BODY_UUID    a string in canonical 8-4-4-4-12 hex form
 *                   (kg_body_is_uuid)
 *   KG_BODY_ENUM    a string among `values` (NULL-terminated)
 *   KG_BODY_OBJECT  an object with the fields of `fields`; min: how many
 *                   of them must be present at least
 *   KG_BODY_MAP     an object with free keys (the handler or lib says
 *                   which exist), each value as `of`; its number of
 *                   entries
 *   KG_BODY_ARRAY   an array, each item as `of`; its number of items
 *
 * A field's `name` is unused for `of` and is free for documentation.
 */
enum kg_body_type {
	KG_BODY_STRING = 1,
	KG_BODY_TEXT,
	KG_BODY_INT,
	KG_BODY_NUMBER,
	KG_BODY_BOOL,
	KG_BODY_UUID,
	KG_BODY_ENUM,
	KG_BODY_OBJECT,
	KG_BODY_MAP,
	KG_BODY_ARRAY,
};

/* Field flags. */
#define KG_BODY_REQUIRED 1u	/* absent -> 400 */
#define KG_BODY_NULLABLE 2u	/* null allowed, read as absent */

#define KG_BODY_MAX_ENTRIES 1000

struct kg_body_field {
	const char *name;
	enum kg_body_type type;
	unsigned flags;
	long long min, max;
	const char *const *values;	/* KG_BODY_ENUM */
	const struct kg_body_field *fields; /* KG_BODY_OBJECT, ends with {0} */
	const struct kg_body_field *of;	/* KG_BODY_MAP values, KG_BODY_ARRAY
					   items */
	const char *what;		/* "a revision's id": messages, docs */
};

/* The version a change is based on (see KG_ROUTE_VERSION, kg_req_version). */
#define KG_BODY_VERSION_FIELD                                             \
	{"version", KG_BODY_INT, .min = 1, .max = 2147483647,             \
	 .what = "a positive integer"}

/*
 * Typed getters for a body the framework checked: `obj` is req->json or
 * an object or map value inside it.  An absent (or null) field gives
 * the default; a present one has the declared type, so there is nothing
 * left to check.  kg_body_str serves KG_BODY_STRING, KG_BODY_TEXT
 * (cleaned), KG_BODY_UUID and KG_BODY_ENUM; kg_body_get gives objects,
 * maps and arrays to walk with cJSON_ArrayForEach (a map entry's key is
 * its ->string).
 */
const char *kg_body_str(const cJSON *obj, const char *name);
long long kg_body_int(const cJSON *obj, const char *name, long long def);
double kg_body_num(const cJSON *obj, const char *name, double def);
int kg_body_bool(const cJSON *obj, const char *name, int def);
const cJSON *kg_body_get(const cJSON *obj, const char *name);

/*
 * The checks behind a declared body, for tests and for bodies that do
 * not arrive as a request: kg_body_check_raw() the text (UTF-8, no
 * \u0000 escape), kg_body_check() the parsed object against the fields
 * (cleaning KG_BODY_TEXT values in place).  0, or -1 with err set as above.
 */
int kg_body_check_raw(const char *text, size_t len, struct kg_err *err);
int kg_body_check(const struct kg_body_field *fields, cJSON *obj,
		  struct kg_err *err);

/* Canonical uuid text: 8-4-4-4-12 hex digits, either case (KG_BODY_UUID
 * values, {name:uuid} path parameters). */
int kg_body_is_uuid(const char *s, size_t n);

#endif
