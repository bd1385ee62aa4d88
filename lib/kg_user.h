/*
 * kg_user - user accounts: creation, password changes, deletion and
 * look-up.  Emails are trimmed and lower-cased before they are stored or
 * compared, so "Ala@Example.PL" and "ala@example.pl" are one account.
 * Deleting a user deletes their batches (and through them projects,
 * sections and exports); their tokens stop working because every
 * authenticated request looks the user up.  Every password change bumps
 * the user's token epoch, which ends all their sessions (kg_auth).
 */
#ifndef KG_USER_H
#define KG_USER_H

#include <cjson/cJSON.h>

#include "kg_err.h"

#define KG_EMAIL_MAX 254

struct kg_user {
	char id[37];
	char email[KG_EMAIL_MAX + 1];
	char display_name[256];
	char role[8];		/* "user" or "admin" */
	long long token_epoch;	/* tokens with another epoch are refused */
};

/* The columns fill_user reads, for other modules' queries on users
 * (kg_auth reads the user and its session state in one statement). */
#define KG_USER_COLUMNS "id, email, display_name, role, token_epoch"
#define KG_USER_NCOLUMNS 5

struct pg_result;
/* Fill `out` from row `row` of a result that has KG_USER_COLUMNS from
 * column `col` on. */
void kg_user_from_row(const struct pg_result *res, int row, int col,
		      struct kg_user *out);

/* Normalise and validate an email into out (KG_EMAIL_MAX+1 bytes);
 * -1 with a 400 error when it is not plausible. */
int kg_user_normalize_email(const char *in, char *out, struct kg_err *err);

/* 409 if the email is taken. `name` NULL uses the email's local part. */
int kg_user_create(const char *email, const char *name, const char *role,
		   const char *password, struct kg_err *err);
/* New password for `email` (kartograf-admin passwd): ends every session
 * of the user (token epoch + 1). */
int kg_user_set_password(const char *email, const char *password,
			 struct kg_err *err);
/* The same for a signed-in user changing their own password; `out` gets
 * the user with the new epoch (to issue the caller a fresh token). */
int kg_user_change_password(const char *id, const char *password,
			    struct kg_user *out, struct kg_err *err);
/* role "user" or "admin"; takes effect on the user's next request (every
 * request re-reads the user) and at the next heartbeat of an open event
 * stream. 404 if there is no such user. */
int kg_user_set_role(const char *email, const char *role,
		     struct kg_err *err);
/* 404 if there is no such user. */
int kg_user_delete(const char *email, struct kg_err *err);
int kg_user_by_id(const char *id, struct kg_user *out, struct kg_err *err);

/* {"id","email","display_name","role"} for API answers. */
cJSON *kg_user_json(const struct kg_user *u);

/*
 * Checks email + password.  Unknown email and wrong password give the
 * same 401 error and take the same time.  On success fills `out` and,
 * when the stored hash used weaker parameters, stores a fresh hash.
 */
int kg_user_authenticate(const char *email, const char *password,
			 struct kg_user *out, struct kg_err *err);

#endif
