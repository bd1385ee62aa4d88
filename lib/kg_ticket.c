#include "kg_ticket.h"
#include "kg_hash.h"
#include "kg_log.h"
#include "kg_redis.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX (sizeof("kg:ticket:") + KG_SHA256_HEX_LEN)

/* Redis keeps the ticket's hash, never the ticket. */
static int
ticket_key(const char *ticket, char key[KEY_MAX])
{
	char h[KG_SHA256_HEX_LEN + 1];

	if (strlen(ticket) != KG_TICKET_CHARS ||
	    strspn(ticket, "0123456789abcdef") != KG_TICKET_CHARS ||
	    kg_hash_sha256_hex(ticket, KG_TICKET_CHARS, h) < 0)
		return -1;
	snprintf(key, KEY_MAX, "kg:ticket:%s", h);
	return 0;
}

int
kg_ticket_issue(const char *user_id, const struct kg_session *s,
		const char *path, char out[KG_TICKET_CHARS + 1],
		struct kg_err *err)
{
	char key[KEY_MAX], *value = NULL;
	cJSON *o = cJSON_CreateObject();
	redisReply *r = NULL;
	int rc = -1;

	if (kg_hash_random_hex(out, KG_TICKET_CHARS / 2) < 0) {
		kg_err_set(err, 500, "internal", "no randomness");
		goto out;
	}
	cJSON_AddStringToObject(o, "user", user_id);
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddStringToObject(o, "jti", s->jti);
	cJSON_AddNumberToObject(o, "epoch", (double)s->epoch);
	cJSON_AddNumberToObject(o, "exp", (double)s->expires);
	value = cJSON_PrintUnformatted(o);
	if (!value || ticket_key(out, key) < 0) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto out;
	}
	r = kg_redis_cmd(err, "SET %s %s EX %d NX", key, value,
			 KG_TICKET_TTL);
	if (!r)
		goto out;
	if (r->type != REDIS_REPLY_STATUS) {
		kg_err_set(err, 503, "unavailable", "cannot store ticket");
		goto out;
	}
	rc = 0;
out:
	freeReplyObject(r);
	free(value);
	cJSON_Delete(o);
	if (rc < 0)
		memset(out, 0, KG_TICKET_CHARS + 1);
	return rc;
}

static int
parse_ticket(const char *json, const char *path, char *user_id,
	     struct kg_session *s)
{
	cJSON *o = cJSON_Parse(json);
	const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(o, "user"));
	const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(o, "path"));
	const char *j = cJSON_GetStringValue(cJSON_GetObjectItem(o, "jti"));
	cJSON *e = cJSON_GetObjectItem(o, "epoch");
	cJSON *x = cJSON_GetObjectItem(o, "exp");
	int ok = u && p && j && strlen(u) == 36 &&
		 strlen(j) == KG_AUTH_JTI_LEN && cJSON_IsNumber(e) &&
		 cJSON_IsNumber(x) && !strcmp(p, path);

	if (ok) {
		memcpy(user_id, u, 37);
		memcpy(s->jti, j, KG_AUTH_JTI_LEN + 1);
		s->epoch = (long long)e->valuedouble;
		s->expires = (time_t)x->valuedouble;
	}
	cJSON_Delete(o);
	return ok ? 0 : -1;
}

int
kg_ticket_redeem(const char *ticket, const char *path, char *user_id,
		 struct kg_session *s, struct kg_err *err)
{
	char key[KEY_MAX];
	redisReply *r;
	int rc;

	if (ticket_key(ticket, key) < 0)
		return kg_err_set(err, 401, "invalid_ticket",
				  "malformed ticket");
	r = kg_redis_cmd(err, "GETDEL %s", key);
	if (!r)
		return -1;
	rc = r->type == REDIS_REPLY_STRING
		     ? parse_ticket(r->str, path, user_id, s) : -1;
	if (r->type == REDIS_REPLY_ERROR)
		KG_WARN("redis: GETDEL failed: %s", r->str);
	freeReplyObject(r);
	if (rc < 0)
		return kg_err_set(err, 401, "invalid_ticket",
				  "unknown, used or expired ticket (ask for "
				  "a new one)");
	return 0;
}
