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
 * For scanners that look around a position and must never stall: the
 * code point at s[i] of an n-byte text, its length in *len (>= 1).  An
 * invalid or truncated sequence reads as U+FFFD of length 1; i >= n
 * reads as 0 (the end of the text).
 */
uint32_t kg_utf8_at(const char *s, size_t n, size_t i, size_t *len);

/* The code point that ends right before s[i]: 0 at the start of the
 * text, U+FFFD when the bytes before i are not one whole sequence. */
uint32_t kg_utf8_before(const char *s, size_t n, size_t i);

/*
 * For cutting a text to a byte budget: the length of s[0..n) without a
 * character cut short at its end - n, or the offset of the last
 * character's first byte when the rest of it lies past n.
 */
size_t kg_utf8_whole(const char *s, size_t n);

/*
 * The one whitespace class, used by the sheet reader (kg_sheet_norm),
 * typography (kg_typo) and the quality score (kg_quality): Unicode's
 * White_Space property - U+0009..U+000D, U+0020, U+0085, U+00A0,
 * U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
 * Line and paragraph separators (U+2028, U+2029) are spaces: they
 * separate words like a newline does.
 */
int kg_utf8_is_space(uint32_t c);

/*
 * Characters that take no room and mean nothing in our texts: zero
 * width space U+200B, word joiner U+2060 and the byte order mark
 * U+FEFF.  They are NOT spaces (U+200B would otherwise split a word the
 * reader sees as one); the sheet reader drops them, and the quality
 * score reads through them.
 */
int kg_utf8_is_invisible(uint32_t c);

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

/*
 * Eight bytes at a time (a uint64_t read with memcpy): KG_ONES * c has c
 * in every byte; kg_zero_bytes(x) has bit 7 set in each byte of x that
 * is zero, exactly (no borrow between bytes, unlike (x - ONES) & ~x), so
 * kg_zero_bytes(x ^ KG_ONES * c) marks the bytes equal to c.
 */
#define KG_ONES 0x0101010101010101ull
#define KG_HIGH 0x8080808080808080ull

static inline uint64_t
kg_zero_bytes(uint64_t x)
{
	return ~(((x & ~KG_HIGH) + ~KG_HIGH) | x | ~KG_HIGH);
}

#endif
