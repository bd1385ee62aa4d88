#include "kg_utf8.h"
#include "kg_buf.h"

#include <stdlib.h>
#include <string.h>

size_t
kg_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	uint32_t c;
	size_t n;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0)
		n = 2, c &= 0x1f;
	else if ((c & 0xf0) == 0xe0)
		n = 3, c &= 0x0f;
	else if ((c & 0xf8) == 0xf0)
		n = 4, c &= 0x07;
	else
		return 0;
	for (size_t k = 1; k < n; k++) {
		if (k >= len || (s[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[k] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

size_t
kg_utf8_encode(uint32_t c, char out[4])
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

size_t
kg_utf8_check(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t c;

	uint64_t x;

	while (i < len) {
		/* the common case, kept cheap: eight ASCII bytes at a time */
		if (i + 8 <= len) {
			memcpy(&x, p + i, 8);
			if (!(x & KG_HIGH)) {
				i += 8;
				continue;
			}
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		/* two bytes (U+0080-U+07FF: Polish letters among them) */
		if (p[i] >= 0xc2 && p[i] <= 0xdf && i + 1 < len &&
		    (p[i + 1] & 0xc0) == 0x80) {
			i += 2;
			continue;
		}
		n = kg_utf8_decode(p + i, len - i, &c);
		if (!n)
			return i;
		i += n;
	}
	return len;
}

size_t
kg_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

uint32_t
kg_utf8_at(const char *s, size_t n, size_t i, size_t *len)
{
	uint32_t c;
	size_t k;

	*len = 1;
	if (i >= n)
		return 0;
	k = kg_utf8_decode((const unsigned char *)s + i, n - i, &c);
	if (!k)
		return 0xFFFD;
	*len = k;
	return c;
}

uint32_t
kg_utf8_before(const char *s, size_t n, size_t i)
{
	size_t j = i, len;
	uint32_t c;

	if (i == 0)
		return 0;
	while (j > 0 && i - j < 4 && ((unsigned char)s[j - 1] & 0xC0) == 0x80)
		j--;
	if (j == 0)
		return 0xFFFD;
	c = kg_utf8_at(s, n, j - 1, &len);
	return j - 1 + len == i ? c : 0xFFFD;
}

size_t
kg_utf8_whole(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t j = n, need;

	while (j > 0 && n - j < 3 && (u[j - 1] & 0xc0) == 0x80)
		j--;
	if (j == 0)
		return n;
	j--;	/* the last character's first byte */
	if ((u[j] & 0xe0) == 0xc0)
		need = 2;
	else if ((u[j] & 0xf0) == 0xe0)
		need = 3;
	else if ((u[j] & 0xf8) == 0xf0)
		need = 4;
	else
		return n;
	return n - j < need ? j : n;
}

int
kg_utf8_is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 ||
	       c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
	       c == 0x3000;
}

int
kg_utf8_is_invisible(uint32_t c)
{
	return c == 0x200B || c == 0x2060 || c == 0xFEFF;
}

/* C0 and C1 controls and DEL: invalid in the .docx XML, meaningless in
 * an editor, and refused by sections_body_chars_check. */
static int
is_stripped_control(uint32_t c)
{
	if (c == '\t' || c == '\n')
		return 0;
	return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

int
kg_utf8_clean(const char *in, size_t len, size_t max_chars, char **out,
	      struct kg_err *err)
{
	const unsigned char *p = (const unsigned char *)in;
	struct kg_buf b = {0};
	size_t i = 0, chars = 0;
	uint32_t c;

	*out = NULL;
	while (i < len) {
		size_t n = kg_utf8_decode(p + i, len - i, &c);

		if (!n) {
			kg_buf_free(&b);
			return kg_err_set(err, 400, "invalid_utf8",
					  "text is not valid UTF-8 (byte %zu)",
					  i);
		}
		if (c == '\r') {
			/* \r\n and a lone \r are one line break. */
			if (i + 1 < len && p[i + 1] == '\n')
				n = 2;
			c = '\n';
		}
		if (!is_stripped_control(c)) {
			if (++chars > max_chars) {
				kg_buf_free(&b);
				return kg_err_set(err, 422, "too_long",
						  "text is longer than %zu "
						  "characters", max_chars);
			}
			if (c == '\n' ? kg_buf_append(&b, "\n", 1)
				      : kg_buf_append(&b, p + i, n)) {
				kg_buf_free(&b);
				return kg_err_set(err, 500, "internal",
						  "out of memory");
			}
		}
		i += n;
	}
	*out = b.data ? kg_buf_take(&b) : strdup("");
	if (!*out)
		return kg_err_set(err, 500, "internal", "out of memory");
	return 0;
}
