#include "kg_hash.h"

#include <openssl/evp.h>

int
kg_sha256_hex(const void *data, size_t len, char out[KG_SHA256_HEX_LEN + 1])
{
	static const char hexdigits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(),
		       NULL) != 1 || mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hexdigits[md[i] >> 4];
		out[2 * i + 1] = hexdigits[md[i] & 15];
	}
	out[2 * mdlen] = '\0';
	return 0;
}
