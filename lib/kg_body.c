/*
 * kg_body - declared request bodies (see "Request bodies, declared" in
 * kg_body.h): the checker and the typed getters.
 *
 * The checker walks the table and the JSON side by side, depth first,
 * and stops at the first fault.  It keeps the path of the value it is
 * looking at ("sections.summary.body") so every message names the exact
 * place, which is most of what makes a 400 useful to a client author.
 */
#include "kg_body.h"
#include "kg_utf8.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PATH_MAX_LEN 160

struct walk {
	char path[PATH_MAX_LEN];
	struct kg_err *err;
};

int
kg_body_is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* ---- raw text ---------------------------------------------------------- */

/*
 * cJSON turns the escape \u0000 into a NUL inside the string, which would
 * silently cut the text short at that point; refuse it instead.  (A
 * preceding odd run of backslashes means the backslash is escaped.)
 */
static int
has_nul_escape(const char *s, size_t len)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		size_t k = 0;

		if (s[i] != '\\' || strncasecmp(s + i + 1, "u0000", 5))
			continue;
		while (k < i && s[i - 1 - k] == '\\')
			k++;
		if (k % 2 == 0)
			return 1;
	}
	return 0;
}

int
kg_body_check_raw(const char *text, size_t len, struct kg_err *err)
{
	if (kg_utf8_check(text, len) != len)
		return kg_err_set(err, 400, "invalid_utf8",
				  "request body is not valid UTF-8");
	if (has_nul_escape(text, len))
		return kg_err_set(err, 400, "bad_request",
				  "text must not contain NUL (\\u0000)");
	return 0;
}

/* ---- messages ---------------------------------------------------------- */

/* What a value of field f must be, for "x must be ...". */
static void
describe(const struct kg_body_field *f, char *out, size_t size)
{
	const char *noun;
	size_t n;

	if (f->what) {
		snprintf(out, size, "%s", f->what);
		return;
	}
	switch (f->type) {
	case KG_BODY_STRING:
	case KG_BODY_TEXT:
		snprintf(out, size, "a string");
		break;
	case KG_BODY_INT:
	case KG_BODY_NUMBER:
		noun = f->type == KG_BODY_INT ? "an integer" : "a number";
		if (f->max)
			snprintf(out, size, "%s from %lld to %lld", noun,
				 f->min, f->max);
		else
			snprintf(out, size, "%s of at least %lld", noun,
				 f->min);
		break;
	case KG_BODY_BOOL:
		snprintf(out, size, "a boolean");
		break;
	case KG_BODY_UUID:
		snprintf(out, size, "an id (uuid)");
		break;
	case KG_BODY_ENUM:
		n = (size_t)snprintf(out, size, "one of");
		for (size_t i = 0; f->values[i] && n < size; i++)
			n += (size_t)snprintf(out + n, size - n, "%s \"%s\"",
					      i ? "," : "", f->values[i]);
		break;
	case KG_BODY_OBJECT:
	case KG_BODY_MAP:
		snprintf(out, size, "an object");
		break;
	case KG_BODY_ARRAY:
		snprintf(out, size, "an array");
		break;
	}
}

static int
wrong(struct walk *w, const struct kg_body_field *f)
{
	char what[160];

	describe(f, what, sizeof(what));
	return kg_err_set(w->err, 400, "bad_request", "%s must be %s",
			  w->path, what);
}

/* ---- the walk ---------------------------------------------------------- */

static int check_value(struct walk *w, const struct kg_body_field *f,
		       cJSON *v);

/* Append ".name" (or "name" at the top) to the path; returns the old
 * length to restore. */
static size_t
path_push(struct walk *w, const char *name)
{
	size_t n = strlen(w->path);

	snprintf(w->path + n, sizeof(w->path) - n, "%s%.64s", n ? "." : "",
		 name);
	return n;
}

static int
check_length(struct walk *w, const struct kg_body_field *f, const char *s)
{
	size_t chars = kg_utf8_chars(s);

	if (f->max && chars > (size_t)f->max)
		return kg_err_set(w->err, 422, "too_long",
				  "%s is longer than %lld characters", w->path,
				  f->max);
	if (chars < (size_t)f->min && f->min == 1)
		return kg_err_set(w->err, 422, "too_short",
				  "%s must not be empty", w->path);
	if (chars < (size_t)f->min)
		return kg_err_set(w->err, 422, "too_short",
				  "%s is shorter than %lld characters",
				  w->path, f->min);
	return 0;
}

/* KG_BODY_TEXT: clean in place, then the length rules on what is kept. */
static int
check_text(struct walk *w, const struct kg_body_field *f, cJSON *v)
{
	char *clean;
	int rc;

	if (kg_utf8_clean(v->valuestring, strlen(v->valuestring), SIZE_MAX,
			  &clean, w->err) < 0)
		return -1;
	rc = check_length(w, f, clean);
	if (rc == 0 && strcmp(clean, v->valuestring) &&
	    !cJSON_SetValuestring(v, clean))
		rc = kg_err_set(w->err, 500, "internal", "out of memory");
	free(clean);
	return rc;
}

static int
check_integer(struct walk *w, const struct kg_body_field *f, const cJSON *v)
{
	double d = v->valuedouble;

	if (f->type == KG_BODY_INT && d != floor(d))
		return wrong(w, f);
	if (d < (double)f->min || (f->max && d > (double)f->max))
		return wrong(w, f);
	return 0;
}

static int
check_enum(struct walk *w, const struct kg_body_field *f, const char *s)
{
	for (size_t i = 0; f->values[i]; i++)
		if (!strcmp(f->values[i], s))
			return 0;
	return wrong(w, f);
}

/* Entries of a map or items of an array: their count, then each. */
static int
check_entries(struct walk *w, const struct kg_body_field *f, cJSON *v)
{
	long long max = f->max ? f->max : KG_BODY_MAX_ENTRIES;
	long long n = cJSON_GetArraySize(v);
	size_t len, i = 0;
	cJSON *it;

	if (n < f->min || n > max)
		return kg_err_set(w->err, 400, "bad_request",
				  "%s must have %lld to %lld %s", w->path,
				  f->min, max,
				  f->type == KG_BODY_MAP ? "entries" : "items");
	cJSON_ArrayForEach(it, v) {
		char index[24];

		if (f->type == KG_BODY_MAP) {
			for (cJSON *p = v->child; p != it; p = p->next)
				if (!strcmp(p->string, it->string))
					return kg_err_set(
						w->err, 400, "bad_request",
						"%s names \"%.64s\" twice",
						w->path, it->string);
		}
		snprintf(index, sizeof(index), "%zu", i++);
		len = path_push(w, f->type == KG_BODY_MAP ? it->string : index);
		if (check_value(w, f->of, it) < 0)
			return -1;
		w->path[len] = '\0';
	}
	return 0;
}

/* An object: no field the table does not name, none twice, the required
 * ones present, at least min of them, then each in table order. */
static int
check_object(struct walk *w, const struct kg_body_field *fields, long long min,
	     cJSON *obj)
{
	long long present = 0;
	size_t len;
	cJSON *it;

	cJSON_ArrayForEach(it, obj) {
		const struct kg_body_field *f = fields;

		while (f->name && strcmp(f->name, it->string))
			f++;
		if (!f->name)
			return kg_err_set(w->err, 400, "bad_request",
					  "unknown field \"%s%s%.40s\"",
					  w->path, *w->path ? "." : "",
					  it->string);
		if (cJSON_GetObjectItemCaseSensitive(obj, f->name) != it)
			return kg_err_set(w->err, 400, "bad_request",
					  "field \"%.40s\" given twice",
					  it->string);
	}
	for (const struct kg_body_field *f = fields; f->name; f++) {
		it = cJSON_GetObjectItemCaseSensitive(obj, f->name);
		len = path_push(w, f->name);
		if (!it ||
		    (cJSON_IsNull(it) && (f->flags & KG_BODY_NULLABLE))) {
			if (f->flags & KG_BODY_REQUIRED)
				return kg_err_set(w->err, 400, "bad_request",
						  "%s is required", w->path);
		} else if (check_value(w, f, it) < 0) {
			return -1;
		} else {
			present++;
		}
		w->path[len] = '\0';
	}
	if (present < min)
		return kg_err_set(w->err, 400, "bad_request",
				  "%s: nothing to change (give at least %lld "
				  "of its fields)",
				  *w->path ? w->path : "body", min);
	return 0;
}

static int
check_value(struct walk *w, const struct kg_body_field *f, cJSON *v)
{
	switch (f->type) {
	case KG_BODY_STRING:
		return cJSON_IsString(v) ? check_length(w, f, v->valuestring)
					 : wrong(w, f);
	case KG_BODY_TEXT:
		return cJSON_IsString(v) ? check_text(w, f, v) : wrong(w, f);
	case KG_BODY_INT:
	case KG_BODY_NUMBER:
		return cJSON_IsNumber(v) ? check_integer(w, f, v)
					 : wrong(w, f);
	case KG_BODY_BOOL:
		return cJSON_IsBool(v) ? 0 : wrong(w, f);
	case KG_BODY_UUID:
		return cJSON_IsString(v) &&
			       kg_body_is_uuid(v->valuestring,
					       strlen(v->valuestring))
			       ? 0
			       : wrong(w, f);
	case KG_BODY_ENUM:
		return cJSON_IsString(v) ? check_enum(w, f, v->valuestring)
					 : wrong(w, f);
	case KG_BODY_OBJECT:
		return cJSON_IsObject(v) ? check_object(w, f->fields, f->min, v)
					 : wrong(w, f);
	case KG_BODY_MAP:
		return cJSON_IsObject(v) ? check_entries(w, f, v)
					 : wrong(w, f);
	case KG_BODY_ARRAY:
		return cJSON_IsArray(v) ? check_entries(w, f, v) : wrong(w, f);
	}
	return kg_err_set(w->err, 500, "internal", "%s: bad field type %d",
			  w->path, (int)f->type);
}

int
kg_body_check(const struct kg_body_field *fields, cJSON *obj,
	      struct kg_err *err)
{
	struct walk w = {.err = err};

	if (!cJSON_IsObject(obj))
		return kg_err_set(err, 400, "bad_request",
				  "request body is not a JSON object");
	return check_object(&w, fields, 0, obj);
}

/* ---- getters ----------------------------------------------------------- */

const cJSON *
kg_body_get(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsNull(v) ? NULL : v;
}

const char *
kg_body_str(const cJSON *obj, const char *name)
{
	return cJSON_GetStringValue(kg_body_get(obj, name));
}

long long
kg_body_int(const cJSON *obj, const char *name, long long def)
{
	const cJSON *v = kg_body_get(obj, name);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : def;
}

double
kg_body_num(const cJSON *obj, const char *name, double def)
{
	const cJSON *v = kg_body_get(obj, name);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int
kg_body_bool(const cJSON *obj, const char *name, int def)
{
	const cJSON *v = kg_body_get(obj, name);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}
