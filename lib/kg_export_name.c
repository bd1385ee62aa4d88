/*
 * File names of exports (kg_export.h): the name a browser saves a card
 * under, the names inside a batch .zip, and the Content-Disposition that
 * carries them.
 *
 * A project name is user text: it may hold path separators ("../x"),
 * quotes that would end the header's quoted-string, control characters
 * (header injection, invisible names), names Windows refuses (CON, a
 * trailing dot) and any length.  So the name is rebuilt from the
 * characters we accept rather than filtered for the ones we fear.
 */
#include "kg_export.h"
#include "kg_array.h"
#include "kg_utf8.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Next code point of valid UTF-8 at *p (advanced); -1 for a bad byte
 * (skipped). */
static long
next_cp(const unsigned char **p)
{
	uint32_t cp;
	size_t n = kg_utf8_decode(*p, 4, &cp);

	*p += n ? n : 1;
	return n ? (long)cp : -1;
}

static int
put_cp(struct kg_buf *b, long cp)
{
	char u[4];

	return kg_buf_append(b, u, kg_utf8_encode((uint32_t)cp, u));
}

/* Separators and characters Windows/macOS refuse in names, and every
 * space (kg_utf8_is_space), invisible character, direction mark or
 * control: all become one plain space. */
static int
is_break(long cp)
{
	uint32_t c = (uint32_t)cp;

	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || kg_utf8_is_space(c) ||
	       kg_utf8_is_invisible(c) || (c >= 0x200B && c <= 0x200F) ||
	       c == 0xFFFE || c == 0xFFFF ||
	       (c < 0x80 && strchr("/\\:*?\"<>|", (int)c) != NULL);
}

static const struct {
	long cp;
	char ascii;
} polish[] = {
	{0x0105, 'a'}, {0x0107, 'c'}, {0x0119, 'e'}, {0x0142, 'l'},
	{0x0144, 'n'}, {0x00F3, 'o'}, {0x015B, 's'}, {0x017A, 'z'},
	{0x017C, 'z'}, {0x0104, 'A'}, {0x0106, 'C'}, {0x0118, 'E'},
	{0x0141, 'L'}, {0x0143, 'N'}, {0x00D3, 'O'}, {0x015A, 'S'},
	{0x0179, 'Z'}, {0x017B, 'Z'},
};

static char
ascii_of(long cp)
{
	if (cp < 0x80 && (isalnum((int)cp) || strchr(".()-", (int)cp)))
		return (char)cp;
	for (size_t i = 0; i < KG_COUNT(polish); i++)
		if (polish[i].cp == cp)
			return polish[i].ascii;
	return '_';
}

/* CON, PRN, AUX, NUL, COM1-9, LPT1-9, alone or before a dot. */
static int
windows_device(const char *s)
{
	static const char *const dev[] = {"CON", "PRN", "AUX", "NUL"};
	size_t n = strcspn(s, ".");

	for (size_t i = 0; i < 4; i++)
		if (n == 3 && !strncasecmp(s, dev[i], 3))
			return 1;
	return n == 4 && (!strncasecmp(s, "COM", 3) ||
			  !strncasecmp(s, "LPT", 3)) &&
	       s[3] >= '1' && s[3] <= '9';
}

/* The cleaned UTF-8 base name (no extension) into `out`. */
static int
clean_name(const char *name, const char *fallback, struct kg_buf *out)
{
	const unsigned char *p = (const unsigned char *)(name ? name : "");
	struct kg_buf b = {0};
	size_t chars = 0, start, end;
	int space = 0, rc = -1;

	while (*p && chars < 4 * KG_EXPORT_NAME_MAX) {
		long cp = next_cp(&p);

		if (cp < 0)
			continue;
		if (is_break(cp)) {
			space = 1;
			continue;
		}
		if ((space && b.len && kg_buf_puts(&b, " ") < 0) ||
		    put_cp(&b, cp) < 0)
			goto out;
		space = 0;
		chars++;
	}
	/* trim dots and spaces at both ends, then cut to length */
	start = 0;
	end = b.len;
	while (start < end && (b.data[start] == '.' || b.data[start] == ' '))
		start++;
	if (b.len) {
		const unsigned char *q = (const unsigned char *)b.data + start;
		size_t n = 0;

		while (q < (const unsigned char *)b.data + end &&
		       n < KG_EXPORT_NAME_MAX) {
			next_cp(&q);
			n++;
		}
		end = (size_t)((const char *)q - b.data);
		while (end > start &&
		       (b.data[end - 1] == '.' || b.data[end - 1] == ' '))
			end--;
	}
	if (end == start) {
		rc = kg_buf_puts(out, fallback);
		goto out;
	}
	rc = kg_buf_append(out, b.data + start, end - start);
out:
	kg_buf_free(&b);
	return rc;
}

static int
ascii_name(const char *clean, const char *fallback, struct kg_buf *out)
{
	const unsigned char *p = (const unsigned char *)clean;
	size_t before = out->len;
	char last = '_';

	while (*p) {
		long cp = next_cp(&p);
		char c = cp == ' ' ? '_' : ascii_of(cp);

		if (c == '_' && last == '_')
			continue;
		if (kg_buf_append(out, &c, 1) < 0)
			return -1;
		last = c;
	}
	while (out->len > before && out->data[out->len - 1] == '_')
		out->data[--out->len] = '\0';
	/* a name that was all dots or underscores is no name */
	if (out->len == before ||
	    strspn(out->data + before, "._") == out->len - before) {
		out->len = before;
		if (out->data)
			out->data[before] = '\0';
		return kg_buf_puts(out, fallback);
	}
	return 0;
}

/* Append `name` to `out`, with '_' before a Windows device name. */
static int
device_safe(struct kg_buf *out, const struct kg_buf *name)
{
	if (windows_device(kg_buf_str(name)) && kg_buf_puts(out, "_") < 0)
		return -1;
	return kg_buf_append(out, kg_buf_str(name), name->len);
}

int
kg_export_filename(const char *name, const char *fallback, const char *ext,
		   struct kg_buf *utf8, struct kg_buf *ascii)
{
	struct kg_buf clean = {0}, plain = {0};
	int rc = -1;

	if (clean_name(name, fallback, &clean) < 0 ||
	    device_safe(utf8, &clean) < 0 || kg_buf_puts(utf8, ext) < 0)
		goto out;
	if (ascii) {
		kg_buf_reset(&plain);
		if (ascii_name(kg_buf_str(&clean), fallback, &plain) < 0 ||
		    device_safe(ascii, &plain) < 0 ||
		    kg_buf_puts(ascii, ext) < 0)
			goto out;
	}
	rc = 0;
out:
	kg_buf_free(&clean);
	kg_buf_free(&plain);
	return rc;
}

/* RFC 5987 attr-char: ALPHA DIGIT ! # $ & + - . ^ _ ` | ~ */
static int
attr_char(unsigned char c)
{
	return isalnum(c) || strchr("!#$&+-.^_`|~", c);
}

int
kg_export_disposition(const char *name, const char *fallback, const char *ext,
		      struct kg_buf *out)
{
	struct kg_buf utf8 = {0}, ascii = {0};
	int rc = -1;

	if (kg_export_filename(name, fallback, ext, &utf8, &ascii) < 0 ||
	    kg_buf_printf(out, "attachment; filename=\"%s\"; "
			  "filename*=UTF-8''", kg_buf_str(&ascii)) < 0)
		goto out;
	for (size_t i = 0; i < utf8.len; i++) {
		unsigned char c = (unsigned char)utf8.data[i];

		if (c && attr_char(c) ? kg_buf_append(out, &c, 1) < 0
				      : kg_buf_printf(out, "%%%02X", c) < 0)
			goto out;
	}
	rc = 0;
out:
	kg_buf_free(&utf8);
	kg_buf_free(&ascii);
	return rc;
}
