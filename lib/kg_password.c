#include "kg_password.h"
#include "kg_config.h"
#include "kg_utf8.h"

#include <argon2.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SALT_LEN 16
#define HASH_LEN 32

static void
current_params(unsigned *m_kib, unsigned *t)
{
	*m_kib = (unsigned)kg_config_int("auth", "argon2_memory_kib");
	*t = (unsigned)kg_config_int("auth", "argon2_iterations");
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

/*
 * Common passwords of at least KG_PASSWORD_NEW_MIN characters (shorter
 * ones fail the length rule anyway): the long entries of the usual
 * breach-corpus top lists, keyboard walks, and Polish and product-name
 * variants a user here would try first.  Compared lower-cased.
 */
static const char *const common_passwords[] = {
	"000000000000", "111111111111", "123123123123", "121212121212",
	"123321123321", "123456123456", "123456654321", "1234567890123",
	"123456789012", "12345678901234", "987654321987",
	"0987654321qw", "1234567890qwerty", "1234qwerasdf", "qwer1234asdf",
	"qwertyuiop12", "qwertyuiop123", "qwertyuiopasdf",
	"qwertyuiopasdfgh", "qwerty123456", "qwerty12345678", "qwerty123456789",
	"1qaz2wsx3edc", "1qaz2wsx3edc4rfv", "1qazxsw23edc", "1q2w3e4r5t6y",
	"1q2w3e4r5t6y7u", "zaq12wsxcde3", "zaq1zaq1zaq1", "zaq1@wsx3edc",
	"qazwsxedcrfv", "asdfghjkl123", "asdfghjklqwe", "zxcvbnm12345",
	"abc123456789", "abcd12345678", "a1b2c3d4e5f6", "abcdefghijkl",
	"password1234", "password12345", "password123456", "password1234567",
	"passwordpassword", "p@ssw0rd1234", "passw0rd1234", "p@ssword1234",
	"mypassword123", "iloveyou1234", "iloveyouiloveyou", "administrator",
	"administrator1", "admin1234567", "adminadmin123", "welcome12345",
	"welcome123456", "letmein12345", "changeme1234", "changemenow1",
	"sunshine1234", "football1234", "baseball1234", "princess1234",
	"monkey123456", "dragon123456", "master123456", "superman1234",
	"trustno1trustno1", "starwars1234", "whatever1234",
	"correcthorsebatterystaple", "correct horse battery staple",
	"haslo1234567", "haslo123456789", "haslohaslo12", "mojehaslo123",
	"tajnehaslo123", "noweHaslo123", "polska123456", "kochamcie123",
	"kochamcie1234", "kartograf123", "kartograf1234",
	"kartograf2024", "kartograf2025", "kartograf2026", "kartografkartograf",
};

/* Code points in valid UTF-8, or -1 for invalid UTF-8. */
static long
utf8_length(const char *s)
{
	size_t len = strlen(s);

	return kg_utf8_check(s, len) == len ? (long)kg_utf8_chars(s) : -1;
}

static int
is_common(const char *password)
{
	for (size_t i = 0; i < sizeof(common_passwords) /
			       sizeof(common_passwords[0]); i++)
		if (!strcasecmp(password, common_passwords[i]))
			return 1;
	return 0;
}

/* "abcabcabcabc": the whole password is its first 1-4 bytes repeated. */
static int
is_repetition(const char *p, size_t n)
{
	for (size_t k = 1; k <= 4 && k < n; k++) {
		size_t i = k;

		while (i < n && p[i] == p[i - k])
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

/* "123456789012", "abcdefghijkl", "987654321098": each byte one more
 * (or one less) than the one before, digits wrapping 9 -> 0. */
static int
is_run(const char *p, size_t n)
{
	int up = 1, down = 1;

	for (size_t i = 1; i < n; i++) {
		int a = (unsigned char)p[i - 1], b = (unsigned char)p[i];

		up &= b == a + 1 || (a == '9' && b == '0');
		down &= b == a - 1 || (a == '0' && b == '9');
	}
	return up || down;
}

static int
matches_email(const char *password, const char *email)
{
	size_t local;

	if (!email || !*email)
		return 0;
	local = strcspn(email, "@");
	return !strcasecmp(password, email) ||
	       (strlen(password) == local &&
		!strncasecmp(password, email, local));
}

int
kg_password_strength(const char *password, const char *email,
		     struct kg_err *err)
{
	size_t n = strlen(password);
	long chars = utf8_length(password);

	if (chars < 0)
		return kg_err_set(err, 422, "weak_password",
				  "password is not valid UTF-8");
	if (chars < KG_PASSWORD_NEW_MIN)
		return kg_err_set(err, 422, "weak_password",
				  "password must have at least %d characters",
				  KG_PASSWORD_NEW_MIN);
	if (n > KG_PASSWORD_MAX_LEN)
		return kg_err_set(err, 422, "weak_password",
				  "password must have at most %d bytes",
				  KG_PASSWORD_MAX_LEN);
	if (is_common(password) || is_repetition(password, n) ||
	    is_run(password, n))
		return kg_err_set(err, 422, "weak_password",
				  "password is too common or too simple");
	if (matches_email(password, email))
		return kg_err_set(err, 422, "weak_password",
				  "password must not be the email address");
	return 0;
}
