/*
 * kg_utf8 - the one UTF-8 decoder and encoder.
 *
 * Strict (RFC 3629): overlong forms, UTF-16 surrogates, code points past
 * U+10FFFF and truncated sequences are invalid.  PostgreSQL refuses them
 * too, so accepting one would turn bad input into a 500 later.  Text
 * from outside (uploads, request bodies, model output) goes through here
 * before it is stored.
 */
#ifndef KG_UTF8_H
#define KG_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "kg_err.h"

/*
 * Decode the sequence at s (len bytes available): its length 1-4 with
 * the code point in *cp, or 0 if it is not valid.  Bytes are examined
 * in order and decoding stops at the first one that does not fit, so a
 * NUL-terminated string may be passed with len 4 past its end.
 */
size_t kg_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Encode cp (at most U+10FFFF, not a surrogate) into out: 1-4 bytes. */
size_t kg_utf8_encode(uint32_t cp, char out[4]);

/* Offset of the first invalid byte, or len if all of s is valid. */
size_t kg_utf8_check(const char *s, size_t len);

/* Number of characters (code points) in a valid NUL-terminated string. */
size_t kg_utf8_chars(const char *s);

/*
 * Clean user or model text for storage (every text the API or a model
 * gives is stored through here).  `in` holds `len` bytes (NULs
 * included).  Fails with 400 "invalid_utf8" unless it is valid UTF-8
 * (no overlong forms, surrogates or code points past U+10FFFF).  Then
 * "\r\n" and a lone "\r" become "\n", and every other control character
 * (U+0000-U+001F but \t and \n, U+007F, U+0080-U+009F) is removed.  A
 * result longer than max_chars characters (code points) fails with 422
 * "too_long".  On success *out is a new string the caller free()s.
 */
int kg_utf8_clean(const char *in, size_t len, size_t max_chars, char **out,
		  struct kg_err *err);

#endif
