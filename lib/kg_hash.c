#include "kg_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

static const char hexdigits[] = "0123456789abcdef";

void
kg_hash_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
kg_hash_sha256_hex(const void *data, size_t len,
		   char out[KG_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(),
		       NULL) != 1 || mdlen != 32)
		return -1;
	kg_hash_hex(md, mdlen, out);
	return 0;
}

static _Thread_local unsigned char pool[256];
static _Thread_local size_t pool_left;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void
pool_forget(void)
{
	pool_left = 0;
}

static void
pool_register(void)
{
	pthread_atfork(NULL, NULL, pool_forget);
}

int
kg_hash_random_hex(char *out, size_t bytes)
{
	unsigned char *raw;

	if (bytes > 64)
		return -1;
	pthread_once(&pool_once, pool_register);
	if (pool_left < bytes) {
		if (RAND_bytes(pool, sizeof(pool)) != 1) {
			pool_left = 0;
			return -1;
		}
		pool_left = sizeof(pool);
	}
	pool_left -= bytes;
	raw = pool + pool_left;
	kg_hash_hex(raw, bytes, out);
	OPENSSL_cleanse(raw, bytes);
	return 0;
}
