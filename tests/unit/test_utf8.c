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
#include "kg_quality.h"
#include "kg_sheet.h"
#include "kg_typo.h"
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

/* The scanners never stall: bad bytes are U+FFFD of one byte. */
static void
test_at_and_before(void **state)
{
	static const char s[] = "a\xc5\x82\xff\xe2\x80";	/* a ł bad cut */
	size_t n = sizeof(s) - 1, len;

	(void)state;
	assert_int_equal(kg_utf8_at(s, n, 0, &len), 'a');
	assert_int_equal(len, 1);
	assert_int_equal(kg_utf8_at(s, n, 1, &len), 0x142);
	assert_int_equal(len, 2);
	assert_int_equal(kg_utf8_at(s, n, 3, &len), 0xFFFD);
	assert_int_equal(len, 1);
	assert_int_equal(kg_utf8_at(s, n, 4, &len), 0xFFFD);	/* truncated */
	assert_int_equal(len, 1);
	assert_int_equal(kg_utf8_at(s, n, n, &len), 0);
	assert_int_equal(kg_utf8_before(s, n, 0), 0);
	assert_int_equal(kg_utf8_before(s, n, 1), 'a');
	assert_int_equal(kg_utf8_before(s, n, 3), 0x142);
	assert_int_equal(kg_utf8_before(s, n, 2), 0xFFFD);	/* mid-letter */
}

/* One whitespace class: U+2028 is a space everywhere, U+200B nowhere
 * (the sheet reader drops it, quality and typography read through it). */
static void
test_one_space_class(void **state)
{
	static const char sheet[] = "a\xe2\x80\xa8" "b c\xe2\x80\x8b" "d";
	struct kg_buf b = {0};

	(void)state;
	assert_true(kg_utf8_is_space(' ') && kg_utf8_is_space('\n'));
	assert_true(kg_utf8_is_space(0xA0) && kg_utf8_is_space(0x85));
	assert_true(kg_utf8_is_space(0x2028) && kg_utf8_is_space(0x3000));
	assert_false(kg_utf8_is_space(0x200B) || kg_utf8_is_space('a'));
	assert_true(kg_utf8_is_invisible(0x200B) && kg_utf8_is_invisible(0xFEFF));
	assert_false(kg_utf8_is_invisible(0x2028));
	/* sheet */
	assert_int_equal(kg_sheet_norm(sheet, strlen(sheet), &b), 0);
	assert_string_equal(kg_buf_str(&b), "a b cd");
	kg_buf_free(&b);
	/* quality */
	assert_int_equal(kg_quality_word_count("ab\xe2\x80\xa8" "cd"), 2);
	assert_int_equal(kg_quality_word_count("ab\xe2\x80\x8b" "cd"), 1);
	/* typography: a quote after a space opens, after U+200B it closes */
	assert_int_equal(kg_typo_polish("x\xe2\x80\xa8\"y", &b), 0);
	assert_string_equal(kg_buf_str(&b), "x\xe2\x80\xa8\xe2\x80\x9ey");
	kg_buf_free(&b);
	assert_int_equal(kg_typo_polish("x\xe2\x80\x8b\"y", &b), 0);
	assert_string_equal(kg_buf_str(&b), "x\xe2\x80\x8b\xe2\x80\x9dy");
	kg_buf_free(&b);
}

/* kg_utf8_whole: a character cut short at the end goes, whole ones stay. */
static void
test_whole(void **state)
{
	const char *s = "a\xc5\x82\xe2\x80\x94\xf0\x9f\x98\x80"; /* a ł — 😀 */

	(void)state;
	assert_int_equal(kg_utf8_whole(s, 0), 0);
	assert_int_equal(kg_utf8_whole(s, 1), 1);
	assert_int_equal(kg_utf8_whole(s, 2), 1);	/* half of ł */
	assert_int_equal(kg_utf8_whole(s, 3), 3);
	assert_int_equal(kg_utf8_whole(s, 4), 3);	/* a third of — */
	assert_int_equal(kg_utf8_whole(s, 5), 3);
	assert_int_equal(kg_utf8_whole(s, 6), 6);
	assert_int_equal(kg_utf8_whole(s, 9), 6);	/* 3 of 4 bytes */
	assert_int_equal(kg_utf8_whole(s, 10), 10);
	/* not UTF-8: left as it is */
	assert_int_equal(kg_utf8_whole("\x80\x80", 2), 2);
	assert_int_equal(kg_utf8_whole("a\xff", 2), 2);
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
		cmocka_unit_test(test_at_and_before),
		cmocka_unit_test(test_one_space_class),
		cmocka_unit_test(test_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
