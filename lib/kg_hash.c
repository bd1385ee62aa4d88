#include "kg_hash.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

static const char hexdigits[] = "0123456789abcdef";

static void
to_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
kg_sha256_hex(const void *data, size_t len, char out[KG_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(),
		       NULL) != 1 || mdlen != 32)
		return -1;
	to_hex(md, mdlen, out);
	return 0;
}

int
kg_random_hex(char *out, size_t bytes)
{
	unsigned char raw[64];

	if (bytes > sizeof(raw) || RAND_bytes(raw, (int)bytes) != 1)
		return -1;
	to_hex(raw, bytes, out);
	return 0;
}
