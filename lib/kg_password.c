#include "kg_password.h"
#include "kg_config.h"

#include <argon2.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#define SALT_LEN 16
#define HASH_LEN 32

static void
current_params(unsigned *m_kib, unsigned *t)
{
	*m_kib = (unsigned)kg_conf_int("auth", "argon2_memory_kib");
	*t = (unsigned)kg_conf_int("auth", "argon2_iterations");
}

int
kg_password_hash(const char *password, char *out, struct kg_err *err)
{
	unsigned char salt[SALT_LEN];
	unsigned m_kib, t;
	int rc;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return kg_err_set(err, 500, "internal", "no randomness");
	current_params(&m_kib, &t);
	rc = argon2id_hash_encoded(t, m_kib, 1, password, strlen(password),
				   salt, sizeof(salt), HASH_LEN, out,
				   KG_PASSWORD_HASH_MAX);
	if (rc != ARGON2_OK)
		return kg_err_set(err, 500, "internal", "hashing failed: %s",
				  argon2_error_message(rc));
	return 0;
}

int
kg_password_verify(const char *encoded, const char *password,
		   int *needs_rehash)
{
	unsigned m_kib, t, hm = 0, ht = 0, hp = 0;

	if (needs_rehash)
		*needs_rehash = 0;
	if (strncmp(encoded, "$argon2id$", 10) != 0)
		return 0;
	if (argon2id_verify(encoded, password, strlen(password)) != ARGON2_OK)
		return 0;
	current_params(&m_kib, &t);
	if (needs_rehash &&
	    (sscanf(encoded, "$argon2id$v=19$m=%u,t=%u,p=%u$", &hm, &ht,
		    &hp) != 3 ||
	     hm < m_kib || ht < t))
		*needs_rehash = 1;
	return 1;
}

void
kg_password_dummy_verify(const char *password)
{
	static char dummy[KG_PASSWORD_HASH_MAX];

	if (!dummy[0] && kg_password_hash("kartograf-dummy", dummy, NULL) < 0)
		return;
	kg_password_verify(dummy, password, NULL);
}
