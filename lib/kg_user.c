#include "kg_user.h"
#include "kg_db.h"
#include "kg_log.h"
#include "kg_password.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_COLUMNS KG_USER_COLUMNS

int
kg_user_normalize_email(const char *in, char *out, struct kg_err *err)
{
	size_t start = 0, end = strlen(in), n, at = 0, ats = 0;

	while (start < end && isspace((unsigned char)in[start]))
		start++;
	while (end > start && isspace((unsigned char)in[end - 1]))
		end--;
	n = end - start;
	if (n == 0 || n > KG_EMAIL_MAX)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[start + i];

		/* ASCII only: internationalised addresses are rare here
		 * and non-ASCII makes case folding ambiguous. */
		if (c <= 0x20 || c >= 0x7f)
			goto bad;
		if (c == '@')
			ats++, at = i;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	if (ats != 1 || at == 0 || at == n - 1)
		goto bad;
	return 0;
bad:
	out[0] = '\0';
	return kg_err_set(err, 400, "bad_request", "invalid email address");
}

void
kg_user_from_row(const PGresult *res, int row, int col, struct kg_user *u)
{
	snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(res, row, col));
	snprintf(u->email, sizeof(u->email), "%s",
		 PQgetvalue(res, row, col + 1));
	snprintf(u->display_name, sizeof(u->display_name), "%s",
		 PQgetvalue(res, row, col + 2));
	snprintf(u->role, sizeof(u->role), "%s", PQgetvalue(res, row, col + 3));
	u->token_epoch = atoll(PQgetvalue(res, row, col + 4));
}

static void
fill_user(PGresult *res, struct kg_user *u)
{
	kg_user_from_row(res, 0, 0, u);
}

/* The one user a query returned (consumes res): 0, or 404 / 503. */
static int
one_user(PGresult *res, struct kg_user *out, struct kg_err *err)
{
	int found;

	if (!res)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		fill_user(res, out);
	PQclear(res);
	return found ? 0 : kg_err_set(err, 404, "not_found", "no such user");
}

int
kg_user_create(const char *email, const char *name, const char *role,
	       const char *password, struct kg_err *err)
{
	char norm[KG_EMAIL_MAX + 1], hash[KG_PASSWORD_HASH_MAX];
	char local[KG_EMAIL_MAX + 1];

	if (kg_user_normalize_email(email, norm, err) < 0 ||
	    kg_password_hash(password, hash, err) < 0)
		return -1;
	snprintf(local, sizeof(local), "%.*s", (int)strcspn(norm, "@"), norm);
	if (kg_db_exec(err, "INSERT INTO users (email, display_name, role, "
			    "password_hash) VALUES ($1, $2, $3, $4)", 4,
		       (const char *const[]){norm, name ? name : local, role,
					     hash}) < 0) {
		if (err && err->status == 409)
			kg_err_set(err, 409, "conflict",
				   "user %s already exists", norm);
		return -1;
	}
	KG_INFO("user %s created (role %s)", norm, role);
	return 0;
}

static int
update_affected(PGresult *res, const char *email, struct kg_err *err)
{
	int n;

	if (!res)
		return -1;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	if (n == 0)
		return kg_err_set(err, 404, "not_found", "no user %s", email);
	return 0;
}

int
kg_user_set_password(const char *email, const char *password,
		     struct kg_err *err)
{
	char norm[KG_EMAIL_MAX + 1], hash[KG_PASSWORD_HASH_MAX];

	if (kg_user_normalize_email(email, norm, err) < 0 ||
	    kg_password_hash(password, hash, err) < 0)
		return -1;
	if (update_affected(
		KG_DB_QUERY(err, "UPDATE users SET password_hash = $2, "
				 "token_epoch = token_epoch + 1 "
				 "WHERE lower(email) = $1", norm, hash),
		norm, err) < 0)
		return -1;
	KG_INFO("password of user %s changed, sessions ended", norm);
	return 0;
}

int
kg_user_change_password(const char *id, const char *password,
			struct kg_user *out, struct kg_err *err)
{
	char hash[KG_PASSWORD_HASH_MAX];

	if (kg_password_hash(password, hash, err) < 0 ||
	    one_user(KG_DB_QUERY(err, "UPDATE users SET password_hash = $2, "
				      "token_epoch = token_epoch + 1 WHERE "
				      "id = $1::uuid RETURNING " USER_COLUMNS,
				 id, hash),
		     out, err) < 0)
		return -1;
	KG_INFO("user %s changed their password, other sessions ended", id);
	return 0;
}

int
kg_user_set_role(const char *email, const char *role, struct kg_err *err)
{
	char norm[KG_EMAIL_MAX + 1];

	if (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0)
		return kg_err_set(err, 400, "bad_request",
				  "role must be user or admin");
	if (kg_user_normalize_email(email, norm, err) < 0 ||
	    update_affected(KG_DB_QUERY(err, "UPDATE users SET role = $2 "
					     "WHERE lower(email) = $1",
					norm, role),
			    norm, err) < 0)
		return -1;
	KG_INFO("user %s now has role %s", norm, role);
	return 0;
}

int
kg_user_delete(const char *email, struct kg_err *err)
{
	char norm[KG_EMAIL_MAX + 1];

	if (kg_user_normalize_email(email, norm, err) < 0)
		return -1;
	if (update_affected(KG_DB_QUERY(err, "DELETE FROM users "
					     "WHERE lower(email) = $1", norm),
			    norm, err) < 0)
		return -1;
	KG_INFO("user %s deleted", norm);
	return 0;
}

int
kg_user_by_id(const char *id, struct kg_user *out, struct kg_err *err)
{
	return one_user(KG_DB_QUERY(err, "SELECT " USER_COLUMNS " FROM users "
					 "WHERE id = $1::uuid", id),
			out, err);
}

cJSON *
kg_user_json(const struct kg_user *u)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", u->id);
	cJSON_AddStringToObject(o, "email", u->email);
	cJSON_AddStringToObject(o, "display_name", u->display_name);
	cJSON_AddStringToObject(o, "role", u->role);
	return o;
}

static void
upgrade_hash(const struct kg_user *u, const char *password)
{
	char hash[KG_PASSWORD_HASH_MAX];
	struct kg_err err = {0};

	if (kg_password_hash(password, hash, &err) < 0 ||
	    kg_db_exec(&err, "UPDATE users SET password_hash = $2 "
			     "WHERE id = $1::uuid", 2,
		       (const char *const[]){u->id, hash}) < 0)
		KG_WARN("could not upgrade password hash: %s", err.message);
	else
		KG_INFO("password hash of user %s upgraded", u->id);
}

int
kg_user_authenticate(const char *email, const char *password,
		     struct kg_user *out, struct kg_err *err)
{
	char norm[KG_EMAIL_MAX + 1];
	PGresult *res = NULL;
	int ok = 0, rehash = 0;

	if (kg_user_normalize_email(email, norm, NULL) == 0) {
		res = KG_DB_QUERY(err, "SELECT " USER_COLUMNS ", password_hash"
				       " FROM users WHERE lower(email) = $1", norm);
		if (!res)
			return -1;
	}
	if (res && PQntuples(res) == 1) {
		fill_user(res, out);
		ok = kg_password_verify(PQgetvalue(res, 0, KG_USER_NCOLUMNS),
					password,
					&rehash);
	} else {
		kg_password_dummy_verify(password);
	}
	PQclear(res);
	if (!ok)
		return kg_err_set(err, 401, "invalid_credentials",
				  "wrong email or password");
	if (rehash)
		upgrade_hash(out, password);
	return 0;
}
