/*
 * kg_app - a program's routes as OpenAPI 3.1 (kg_app_openapi in
 * kg_app.h).  The route table and the declared bodies are the truth the
 * framework enforces, so the document is made from them rather than
 * written beside them: it cannot promise a field the server refuses.
 * What C does not know - the shapes of the answers - lives in
 * cgi-bin/openapi.json, which scripts/gen-openapi.py merges with every
 * program's paths.
 */
#include "kg_app.h"
#include "kg_body.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static cJSON *field_schema(const struct kg_body_field *f);

static void
add_ref(cJSON *o, const char *kind, const char *name)
{
	char ref[160];

	snprintf(ref, sizeof(ref), "#/components/%s/%s", kind, name);
	cJSON_AddStringToObject(o, "$ref", ref);
}

static cJSON *
object_schema(const struct kg_body_field *fields, long long min)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *props = cJSON_AddObjectToObject(o, "properties");
	cJSON *req = cJSON_CreateArray();

	cJSON_AddStringToObject(o, "type", "object");
	for (const struct kg_body_field *f = fields; f->name; f++) {
		cJSON_AddItemToObject(props, f->name, field_schema(f));
		if (f->flags & KG_BODY_REQUIRED)
			cJSON_AddItemToArray(req, cJSON_CreateString(f->name));
	}
	if (cJSON_GetArraySize(req))
		cJSON_AddItemToObject(o, "required", req);
	else
		cJSON_Delete(req);
	cJSON_AddFalseToObject(o, "additionalProperties");
	if (min)
		cJSON_AddNumberToObject(o, "minProperties", (double)min);
	return o;
}

/* The JSON type name of a field, and its bounds under their names. */
static const char *
type_name(const struct kg_body_field *f, const char **lo, const char **hi)
{
	*lo = *hi = NULL;
	switch (f->type) {
	case KG_BODY_STRING:
	case KG_BODY_TEXT:
		*lo = "minLength", *hi = "maxLength";
		return "string";
	case KG_BODY_INT:
		*lo = "minimum", *hi = "maximum";
		return "integer";
	case KG_BODY_NUMBER:
		*lo = "minimum", *hi = "maximum";
		return "number";
	case KG_BODY_BOOL:
		return "boolean";
	case KG_BODY_UUID:
	case KG_BODY_ENUM:
		return "string";
	case KG_BODY_OBJECT:
		return "object";
	case KG_BODY_MAP:
		*lo = "minProperties", *hi = "maxProperties";
		return "object";
	case KG_BODY_ARRAY:
		*lo = "minItems", *hi = "maxItems";
		return "array";
	}
	return "null";
}

static cJSON *
field_schema(const struct kg_body_field *f)
{
	const char *lo, *hi, *type = type_name(f, &lo, &hi);
	long long max = f->max;
	cJSON *o;

	if (f->type == KG_BODY_OBJECT)
		o = object_schema(f->fields, f->min);
	else
		o = cJSON_CreateObject();
	if (f->type != KG_BODY_OBJECT && !(f->flags & KG_BODY_NULLABLE))
		cJSON_AddStringToObject(o, "type", type);
	if (f->type != KG_BODY_OBJECT && (f->flags & KG_BODY_NULLABLE)) {
		cJSON *t = cJSON_AddArrayToObject(o, "type");

		cJSON_AddItemToArray(t, cJSON_CreateString(type));
		cJSON_AddItemToArray(t, cJSON_CreateString("null"));
	}
	if (f->type == KG_BODY_UUID)
		cJSON_AddStringToObject(o, "format", "uuid");
	if (f->type == KG_BODY_ENUM) {
		cJSON *e = cJSON_AddArrayToObject(o, "enum");

		for (size_t i = 0; f->values[i]; i++)
			cJSON_AddItemToArray(e, cJSON_CreateString(f->values[i]));
	}
	if ((f->type == KG_BODY_MAP || f->type == KG_BODY_ARRAY) && !max)
		max = KG_BODY_MAX_ENTRIES;
	if (lo &&
	    (f->min || f->type == KG_BODY_INT || f->type == KG_BODY_NUMBER))
		cJSON_AddNumberToObject(o, lo, (double)f->min);
	if (hi && max)
		cJSON_AddNumberToObject(o, hi, (double)max);
	if (f->type == KG_BODY_MAP)
		cJSON_AddItemToObject(o, "additionalProperties",
				      field_schema(f->of));
	if (f->type == KG_BODY_ARRAY)
		cJSON_AddItemToObject(o, "items", field_schema(f->of));
	if (f->type == KG_BODY_TEXT)
		cJSON_AddStringToObject(o, "description",
					f->what ? f->what
						: "text: line breaks become "
						  "\\n, other control "
						  "characters are removed, "
						  "then the length counts");
	else if (f->what)
		cJSON_AddStringToObject(o, "description", f->what);
	return o;
}

static cJSON *
path_param(const char *name, size_t len, const char *type)
{
	cJSON *prm = cJSON_CreateObject(), *schema;
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*s", (int)len, name);
	cJSON_AddStringToObject(prm, "name", buf);
	cJSON_AddStringToObject(prm, "in", "path");
	cJSON_AddTrueToObject(prm, "required");
	schema = cJSON_AddObjectToObject(prm, "schema");
	cJSON_AddStringToObject(schema, "type", "string");
	if (!strncmp(type, "uuid}", 5))
		cJSON_AddStringToObject(schema, "format", "uuid");
	else if (!strncmp(type, "int}", 4))
		cJSON_AddStringToObject(schema, "pattern", "^[0-9]{1,18}$");
	else
		cJSON_AddStringToObject(schema, "pattern",
					"^[a-z0-9_]{1,64}$");
	return prm;
}

/* "{id:uuid}" -> "{id}" into out, one parameter per typed segment. */
static void
path_and_params(const char *pattern, char *out, size_t size, cJSON *params)
{
	size_t n = 0;

	for (const char *p = pattern; *p && n + 1 < size; p++) {
		const char *colon = strchr(p, ':'), *end = strchr(p, '}');

		if (*p != '{' || !colon || !end || colon > end) {
			out[n++] = *p;
			continue;
		}
		n += (size_t)snprintf(out + n, size - n, "{%.*s}",
				      (int)(colon - p - 1), p + 1);
		cJSON_AddItemToArray(params,
				     path_param(p + 1, (size_t)(colon - p - 1),
						colon + 1));
		p = end;
	}
	out[n < size ? n : size - 1] = '\0';
}

static void
add_error(cJSON *responses, int status)
{
	char code[8];

	snprintf(code, sizeof(code), "%d", status);
	if (!cJSON_GetObjectItemCaseSensitive(responses, code))
		add_ref(cJSON_AddObjectToObject(responses, code), "responses",
			code);
}

/* The errors a route can answer: what the framework does for its flags
 * and body, then the route's own. */
static void
add_errors(cJSON *responses, const struct kg_route *r)
{
	const char *e = r->errors;

	add_error(responses, 400);
	if (r->flags & KG_ROUTE_AUTH) {
		add_error(responses, 401);
		add_error(responses, 431);	/* Authorization too large */
	}
	add_error(responses, 404);
	if (r->body) {
		add_error(responses, 413);
		add_error(responses, 415);
		add_error(responses, 422);
	}
	if (r->flags & KG_ROUTE_VERSION) {
		add_error(responses, 409);
		add_error(responses, 428);
	}
	while (e && *e) {
		int status = 0;

		while (isdigit((unsigned char)*e))
			status = status * 10 + (*e++ - '0');
		if (status >= 400 && status <= 599)
			add_error(responses, status);
		while (*e == ' ')
			e++;
	}
	add_error(responses, 500);
	add_error(responses, 503);
}

static cJSON *
success(const struct kg_route *r)
{
	cJSON *o = cJSON_CreateObject(), *content, *media, *schema;
	const char *type = r->response;

	cJSON_AddStringToObject(o, "description",
				r->summary ? r->summary : "success");
	if (!type)
		return o;
	content = cJSON_AddObjectToObject(o, "content");
	if (strchr(type, '/')) {
		schema = cJSON_AddObjectToObject(
			cJSON_AddObjectToObject(content, type), "schema");
		cJSON_AddStringToObject(schema, "type", "string");
		if (strncmp(type, "text/", 5))
			cJSON_AddStringToObject(schema, "contentMediaType",
						type);
		return o;
	}
	media = cJSON_AddObjectToObject(content, "application/json");
	add_ref(cJSON_AddObjectToObject(media, "schema"), "schemas", type);
	return o;
}

static cJSON *
request_body(const struct kg_route *r)
{
	cJSON *o = cJSON_CreateObject(), *media;
	int required = 0;

	if (r->request) {
		add_ref(o, "requestBodies", r->request);
		return o;
	}
	for (const struct kg_body_field *f = r->body; f->name; f++)
		required |= !!(f->flags & KG_BODY_REQUIRED);
	cJSON_AddStringToObject(o, "description",
				"JSON; an empty body counts as {}");
	cJSON_AddBoolToObject(o, "required", required);
	media = cJSON_AddObjectToObject(
		cJSON_AddObjectToObject(o, "content"), "application/json");
	cJSON_AddItemToObject(media, "schema", object_schema(r->body, 0));
	return o;
}

static void
add_security(cJSON *op, const struct kg_route *r)
{
	cJSON *sec = cJSON_AddArrayToObject(op, "security");

	if (!(r->flags & KG_ROUTE_AUTH))
		return;
	cJSON_AddItemToArray(sec, cJSON_CreateObject());
	cJSON_AddArrayToObject(cJSON_GetArrayItem(sec, 0), "bearer");
	if (r->flags & KG_ROUTE_QUERY_TOKEN) {
		cJSON_AddItemToArray(sec, cJSON_CreateObject());
		cJSON_AddArrayToObject(cJSON_GetArrayItem(sec, 1),
				       "queryToken");
	}
}

static void
add_version_header(cJSON *params)
{
	cJSON *h = cJSON_CreateObject();

	cJSON_AddStringToObject(h, "name", "If-Match");
	cJSON_AddStringToObject(h, "in", "header");
	cJSON_AddStringToObject(h, "description",
				"the version the change is based on, "
				"\"<n>\" (or \"version\" in the body)");
	cJSON_AddStringToObject(
		cJSON_AddObjectToObject(h, "schema"), "pattern",
		"^\"[1-9][0-9]*\"$");
	cJSON_AddItemToArray(params, h);
}

/* "patch_projects_id" for PATCH /api/projects/{id}. */
static void
operation_id(const char *method, const char *path, char *id, size_t size)
{
	size_t n = 0;

	for (const char *m = method; *m && n + 1 < size; m++)
		id[n++] = (char)tolower((unsigned char)*m);
	if (!strncmp(path, "/api/", 5))
		path += 4;
	for (const char *p = path; *p && n + 1 < size; p++)
		if (isalnum((unsigned char)*p) || *p == '_')
			id[n++] = *p;
		else if (*p == '/' || *p == '.')
			id[n++] = '_';
	id[n] = '\0';
}

static cJSON *
operation(const struct kg_app *app, const struct kg_route *r,
	  const char *path, cJSON *params)
{
	cJSON *op = cJSON_CreateObject(), *responses;
	char status[8], id[160];

	operation_id(r->method, path, id, sizeof(id));
	cJSON_AddStringToObject(op, "operationId", id);
	cJSON_AddStringToObject(op, "summary", r->summary ? r->summary : "");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(op, "tags"),
			     cJSON_CreateString(app->name));
	if (r->flags & KG_ROUTE_VERSION)
		add_version_header(params);
	if (cJSON_GetArraySize(params))
		cJSON_AddItemToObject(op, "parameters", params);
	else
		cJSON_Delete(params);
	if (r->body || r->request)
		cJSON_AddItemToObject(op, "requestBody", request_body(r));
	add_security(op, r);
	responses = cJSON_AddObjectToObject(op, "responses");
	snprintf(status, sizeof(status), "%d", r->status ? r->status : 200);
	cJSON_AddItemToObject(responses, status, success(r));
	add_errors(responses, r);
	return op;
}

cJSON *
kg_app_openapi(const struct kg_app *app)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *paths;

	cJSON_AddStringToObject(doc, "program", app->name);
	paths = cJSON_AddObjectToObject(doc, "paths");
	for (const struct kg_route *r = app->routes; r->method; r++) {
		cJSON *params = cJSON_CreateArray(), *item;
		char path[256], method[16];
		size_t i;

		path_and_params(r->pattern, path, sizeof(path), params);
		item = cJSON_GetObjectItemCaseSensitive(paths, path);
		if (!item)
			item = cJSON_AddObjectToObject(paths, path);
		for (i = 0; r->method[i] && i + 1 < sizeof(method); i++)
			method[i] = (char)tolower((unsigned char)r->method[i]);
		method[i] = '\0';
		cJSON_AddItemToObject(item, method,
				      operation(app, r, path, params));
	}
	return doc;
}

int
kg_app_print_openapi(const struct kg_app *app)
{
	cJSON *doc = kg_app_openapi(app);
	char *text = cJSON_Print(doc);
	int rc = text && puts(text) >= 0 && fflush(stdout) == 0 ? 0 : 1;

	cJSON_free(text);
	cJSON_Delete(doc);
	return rc;
}

int
kg_app_openapi_file(struct kg_buf *out, struct kg_err *err)
{
	char exe[PATH_MAX], path[PATH_MAX + 32], chunk[16384];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	size_t got;
	FILE *f;
	int rc = 0;

	if (n <= 0)
		return kg_err_set(err, 500, "internal",
				  "cannot find this program: %s",
				  strerror(errno));
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/../openapi.json", exe);
	f = fopen(path, "rb");
	if (!f)
		return kg_err_set(err, 500, "internal",
				  "the API document is missing (%s): %s",
				  path, strerror(errno));
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 && rc == 0)
		if (kg_buf_append(out, chunk, got) < 0)
			rc = kg_err_set(err, 500, "internal", "out of memory");
	if (rc == 0 && ferror(f))
		rc = kg_err_set(err, 500, "internal", "cannot read %s", path);
	fclose(f);
	return rc;
}
