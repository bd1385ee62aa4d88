/* kg_hash - SHA-256 as lower-case hex (export checksums, S3 and SigV4
 * payload hashes, ticket keys), on OpenSSL's EVP interface; random ids
 * as hex (token jti, tickets) from OpenSSL's CSPRNG. */
#ifndef KG_HASH_H
#define KG_HASH_H

#include <stddef.h>

#define KG_SHA256_HEX_LEN 64

/* Hex digest of data[0..len) into out (65 bytes); -1 if OpenSSL fails. */
int kg_hash_sha256_hex(const void *data, size_t len,
		  char out[KG_SHA256_HEX_LEN + 1]);

/* in[0..n) as lower-case hex into out (2 * n + 1 bytes). */
void kg_hash_hex(const unsigned char *in, size_t n, char *out);

/* `bytes` (at most 64) random bytes as hex into out (2 * bytes + 1); -1
 * if the CSPRNG fails.  Drawn from a per-thread pool that OpenSSL fills
 * 256 bytes at a time (one DRBG call per request id was ~3 % of a card
 * request's program CPU); a byte is handed out once and wiped, and a
 * forked child starts with an empty pool. */
int kg_hash_random_hex(char *out, size_t bytes);

#endif
