/* kg_hash - SHA-256 as lower-case hex (export checksums, S3 and SigV4
 * payload hashes, ticket keys), on OpenSSL's EVP interface; random ids
 * as hex (token jti, tickets) from OpenSSL's CSPRNG. */
#ifndef KG_HASH_H
#define KG_HASH_H

#include <stddef.h>

#define KG_SHA256_HEX_LEN 64

/* Hex digest of data[0..len) into out (65 bytes); -1 if OpenSSL fails. */
int kg_sha256_hex(const void *data, size_t len,
		  char out[KG_SHA256_HEX_LEN + 1]);

/* `bytes` random bytes as hex into out (2 * bytes + 1); -1 if the
 * CSPRNG fails. */
int kg_random_hex(char *out, size_t bytes);

#endif
