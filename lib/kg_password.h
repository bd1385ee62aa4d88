/*
 * kg_password - password hashing with Argon2id (libargon2).
 *
 * Hashes are stored in the encoded form "$argon2id$v=19$m=..,t=..,p=..$
 * salt$hash", which carries its own parameters, so raising the cost in
 * config ([auth] argon2_memory_kib, argon2_iterations) keeps old hashes
 * verifiable; kg_password_verify reports when a hash used weaker
 * parameters so the caller can store a fresh one after a successful
 * login.  Salts are 16 random bytes from OpenSSL's CSPRNG; comparison is
 * constant-time (argon2_verify).
 */
#ifndef KG_PASSWORD_H
#define KG_PASSWORD_H

#include <stddef.h>

#include "kg_err.h"

#define KG_PASSWORD_HASH_MAX 160
#define KG_PASSWORD_MIN_LEN 8	/* what login accepts (older accounts) */
#define KG_PASSWORD_MAX_LEN 1024
#define KG_PASSWORD_NEW_MIN 12	/* characters, for every new password */

/* Encoded hash into out (KG_PASSWORD_HASH_MAX bytes). */
int kg_password_hash(const char *password, char *out, struct kg_err *err);

/* 1 = matches, 0 = does not (or the stored hash is malformed).
 * *needs_rehash (may be NULL) is set when parameters are outdated. */
int kg_password_verify(const char *encoded, const char *password,
		       int *needs_rehash);

/*
 * The rule for a NEW password (kartograf-admin adduser/passwd, POST
 * /api/auth/password), documented in README "Authentication": at least
 * KG_PASSWORD_NEW_MIN characters (code points), at most
 * KG_PASSWORD_MAX_LEN bytes, valid UTF-8, not on the list of common
 * passwords (case-insensitive), not one short pattern repeated
 * ("abcabcabcabc"), not a plain run of consecutive characters
 * ("123456789012"), and not the email address or its local part.  No
 * composition rules (NIST SP 800-63B: they do not help).  `email` may be
 * NULL.  0, or -1 with 422 "weak_password" and the reason.
 */
int kg_password_strength(const char *password, const char *email,
			 struct kg_err *err);

/* Spend the same time as a real verification (unknown user at login),
 * so response time does not reveal which emails exist. */
void kg_password_dummy_verify(const char *password);

#endif
