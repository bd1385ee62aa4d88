/* Unit tests of kg_utf8_clean, the text cleaner: UTF-8 validity, line
 * breaks, control characters and the length limit (characters, not
 * bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kg_project.h"
#include "kg_utf8.h"

/* clean(in, len) succeeds and gives `want`. */
static void
check_ok(const char *in, size_t len, size_t max, const char *want)
{
	struct kg_err err = {0};
	char *out = (char *)1;

	assert_int_equal(kg_utf8_clean(in, len, max, &out, &err), 0);
	assert_int_equal(err.status, 0);
	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void
check_fails(const char *in, size_t len, size_t max, int status,
	    const char *code)
{
	struct kg_err err = {0};
	char *out = (char *)1;

	assert_int_equal(kg_utf8_clean(in, len, max, &out, &err), -1);
	assert_null(out);
	assert_int_equal(err.status, status);
	assert_string_equal(err.code, code);
}

#define OK(in, want) check_ok((in), sizeof(in) - 1, 100, (want))
#define BAD_UTF8(in) check_fails((in), sizeof(in) - 1, 100, 400, \
				 "invalid_utf8")

static void
test_plain_text_unchanged(void **state)
{
	(void)state;
	OK("", "");
	OK("Zażółć gęślą jaźń", "Zażółć gęślą jaźń");
	OK("<script>alert(1)</script>", "<script>alert(1)</script>");
	OK("a\tb\nc", "a\tb\nc");
	OK("emoji \xf0\x9f\x98\x80 and \xe2\x82\xac", "emoji \xf0\x9f\x98\x80 and \xe2\x82\xac");
}

static void
test_line_breaks(void **state)
{
	(void)state;
	OK("a\r\nb", "a\nb");
	OK("a\rb", "a\nb");
	OK("a\r\r\nb", "a\n\nb");
	OK("a\n\rb", "a\n\nb");
	OK("end\r", "end\n");
}

static void
test_controls_stripped(void **state)
{
	(void)state;
	OK("a\x01" "b\x1f" "c\x7f" "d", "abcd");
	OK("x\x0by\x0cz", "xyz");
	/* C1 controls U+0080 and U+009F, and a NUL inside the length */
	OK("a\xc2\x80" "b\xc2\x9f" "c", "abc");
	check_ok("a\0b", 3, 100, "ab");
	/* U+00A0 (NBSP) is not a control */
	OK("1\xc2\xa0" "000", "1\xc2\xa0" "000");
}

static void
test_invalid_utf8(void **state)
{
	(void)state;
	BAD_UTF8("\xff");
	BAD_UTF8("abc\xc3");		/* truncated */
	BAD_UTF8("\xc3\x28");		/* bad continuation */
	BAD_UTF8("\xc0\xaf");		/* overlong '/' */
	BAD_UTF8("\xe0\x80\xaf");	/* overlong */
	BAD_UTF8("\xed\xa0\x80");	/* surrogate U+D800 */
	BAD_UTF8("\xf4\x90\x80\x80");	/* past U+10FFFF */
	BAD_UTF8("\x80");		/* lone continuation */
	assert_int_equal(kg_utf8_check("\xc3\xb3", 2), 2);
	assert_int_equal(kg_utf8_check("\xc3", 1), 0);
	assert_int_equal(kg_utf8_check("", 0), 0);
}

static void
test_length_in_characters(void **state)
{
	char *big, *out = NULL;
	struct kg_err err = {0};
	size_t i;

	(void)state;
	/* 5 characters, 10 bytes: fits in 5 */
	check_ok("ąęółż", 10, 5, "ąęółż");
	check_fails("ąęółżź", 12, 5, 422, "too_long");
	/* stripped characters do not count, \r\n counts once */
	check_ok("ab\x01\x02\x03", 5, 2, "ab");
	check_ok("a\r\nb", 4, 3, "a\nb");

	big = malloc(KG_SECTION_MAX_CHARS * 2 + 2);
	assert_non_null(big);
	for (i = 0; i < KG_SECTION_MAX_CHARS; i++)
		memcpy(big + 2 * i, "\xc5\x82", 2);	/* ł */
	assert_int_equal(kg_utf8_clean(big, 2 * i,
					       KG_SECTION_MAX_CHARS, &out,
					       &err), 0);
	assert_int_equal(kg_utf8_chars(out), KG_SECTION_MAX_CHARS);
	free(out);
	big[2 * i] = 'x';
	check_fails(big, 2 * i + 1, KG_SECTION_MAX_CHARS, 422, "too_long");
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_line_breaks),
		cmocka_unit_test(test_controls_stripped),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_length_in_characters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
