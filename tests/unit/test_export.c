/* Unit tests of the export file names (kg_export_filename) and the
 * Content-Disposition builder (kg_export_disposition): ASCII fallback,
 * RFC 5987 encoding, path-like names, control characters, length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kg_array.h"
#include "kg_export.h"

/* kg_export_filename(name) -> utf8 and ascii, compared. */
static void
names(const char *name, const char *want_utf8, const char *want_ascii)
{
	struct kg_buf u = {0}, a = {0};

	assert_int_equal(kg_export_filename(name, "karta", ".docx", &u, &a), 0);
	assert_string_equal(kg_buf_str(&u), want_utf8);
	assert_string_equal(kg_buf_str(&a), want_ascii);
	kg_buf_free(&u);
	kg_buf_free(&a);
}

static void
test_polish_names(void **state)
{
	(void)state;
	names("Park kieszonkowy", "Park kieszonkowy.docx",
	      "Park_kieszonkowy.docx");
	names("Zażółć gęślą jaźń", "Zażółć gęślą jaźń.docx",
	      "Zazolc_gesla_jazn.docx");
	names("ŁÓDŹ – Śródmieście", "ŁÓDŹ – Śródmieście.docx",
	      "LODZ_Srodmiescie.docx");
	names("Projekt „Zielona Łąka” (2026)",
	      "Projekt „Zielona Łąka” (2026).docx",
	      "Projekt_Zielona_Laka_(2026).docx");
	names("Ünïcödé 日本", "Ünïcödé 日本.docx", "n_c_d.docx");
}

static void
test_path_like_names(void **state)
{
	(void)state;
	names("../../etc/passwd", "etc passwd.docx", "etc_passwd.docx");
	names("..\\..\\boot.ini", "boot.ini.docx", "boot.ini.docx");
	names("/absolute", "absolute.docx", "absolute.docx");
	names("a/../b", "a .. b.docx", "a_.._b.docx");
	names("...", "karta.docx", "karta.docx");
	names("", "karta.docx", "karta.docx");
	names(NULL, "karta.docx", "karta.docx");
	names(" . / \\ ", "karta.docx", "karta.docx");
	names("CON", "_CON.docx", "_CON.docx");
	names("nul.txt", "_nul.txt.docx", "_nul.txt.docx");
	names("COM1", "_COM1.docx", "_COM1.docx");
	names("Console", "Console.docx", "Console.docx");
	names("ąęł", "ąęł.docx", "ael.docx");
	names("日本", "日本.docx", "karta.docx");
}

static void
test_control_and_quotes(void **state)
{
	(void)state;
	names("a\r\nContent-Type: text/html", "a Content-Type text html.docx",
	      "a_Content-Type_text_html.docx");
	names("\"quoted\" <b>|*?", "quoted b.docx", "quoted_b.docx");
	names("tab\there\x01\x7f\xc2\x85x", "tab here x.docx",
	      "tab_here_x.docx");
	names("bad \xff\xfe utf8 \xc0\xaf", "bad utf8.docx", "bad_utf8.docx");
	names("a\xe2\x80\xa8" "b\xc2\xa0" "c", "a b c.docx", "a_b_c.docx");
	names("  spaced   out .  ", "spaced out.docx", "spaced_out.docx");
	names("zero\xe2\x80\x8bwidth", "zero width.docx", "zero_width.docx");
	/* every space of kg_utf8_is_space: narrow NBSP, ideographic space;
	 * and the word joiner, invisible */
	names("a\xe2\x80\xaf" "b\xe3\x80\x80" "c\xe2\x81\xa0" "d",
	      "a b c d.docx", "a_b_c_d.docx");
}

static void
test_length_limit(void **state)
{
	char in[2001];
	struct kg_buf u = {0}, a = {0};

	(void)state;
	for (int i = 0; i < 1000; i++)
		memcpy(in + 2 * i, "ł", 2);
	in[2000] = '\0';
	assert_int_equal(kg_export_filename(in, "karta", ".docx", &u, &a), 0);
	/* 80 characters of 2 bytes, then ".docx"; never a cut character */
	assert_int_equal(u.len, 2 * KG_EXPORT_NAME_MAX + 5);
	assert_int_equal(a.len, KG_EXPORT_NAME_MAX + 5);
	assert_string_equal(u.data + u.len - 5, ".docx");
	kg_buf_free(&u);
	kg_buf_free(&a);
}

static void
disposition(const char *name, const char *want)
{
	struct kg_buf b = {0};

	assert_int_equal(kg_export_disposition(name, "karta", ".docx", &b), 0);
	assert_string_equal(kg_buf_str(&b), want);
	assert_null(strpbrk(kg_buf_str(&b), "\r\n"));
	kg_buf_free(&b);
}

static void
test_disposition(void **state)
{
	(void)state;
	disposition("Park kieszonkowy",
		    "attachment; filename=\"Park_kieszonkowy.docx\"; "
		    "filename*=UTF-8''Park%20kieszonkowy.docx");
	disposition("Łąka & „Ogród”",
		    "attachment; filename=\"Laka_Ogrod.docx\"; "
		    "filename*=UTF-8''%C5%81%C4%85ka%20&%20%E2%80%9EOgr%C3%B3d"
		    "%E2%80%9D.docx");
	disposition("a'b;c=d%e",
		    "attachment; filename=\"a_b_c_d_e.docx\"; "
		    "filename*=UTF-8''a%27b%3Bc%3Dd%25e.docx");
	disposition("x\"; filename=evil.exe",
		    "attachment; filename=\"x_filename_evil.exe.docx\"; "
		    "filename*=UTF-8''x%20%3B%20filename%3Devil.exe.docx");
	disposition("\r\n", "attachment; filename=\"karta.docx\"; "
			    "filename*=UTF-8''karta.docx");
}

static void
test_appends(void **state)
{
	struct kg_buf u = {0}, a = {0};

	(void)state;
	kg_buf_puts(&u, "dir/");
	kg_buf_puts(&a, "x");
	assert_int_equal(kg_export_filename("Ab", "f", ".zip", &u, NULL), 0);
	assert_string_equal(u.data, "dir/Ab.zip");
	assert_int_equal(kg_export_filename("", "karty", ".zip", &a, &a), 0);
	assert_string_equal(a.data, "xkarty.zipkarty.zip");
	kg_buf_free(&u);
	kg_buf_free(&a);
}

/* One parse gives the export's fields and the queue's (kind, target,
 * ident), and a task either rule refuses is refused. */
static void
test_task_parse(void **state)
{
	static const char *const bad[] = {
		/* the queue's rule: a kind, a project or a batch */
		"{\"kind\":\"\",\"project_id\":\"p\",\"user_id\":\"u\","
		"\"request_id\":\"r\"}",
		"{\"kind\":\"export_docx\",\"user_id\":\"u\","
		"\"request_id\":\"r\"}",
		/* the export's: strings, a user and a request id */
		"{\"kind\":\"export_docx\",\"project_id\":5,\"batch_id\":\"b\","
		"\"user_id\":\"u\",\"request_id\":\"r\"}",
		"{\"kind\":\"export_docx\",\"project_id\":\"p\","
		"\"request_id\":\"r\"}",
		"[]",
		"{",
	};
	struct kg_export_task t;

	(void)state;
	assert_int_equal(kg_export_task_parse(
				 "{\"kind\":\"export_zip\",\"batch_id\":\"b1\","
				 "\"project_id\":null,\"user_id\":\"u1\","
				 "\"request_id\":\"r1\",\"deadline\":12}",
				 &t),
			 0);
	assert_string_equal(t.q.kind, "export_zip");
	assert_string_equal(t.q.batch_id, "b1");
	assert_string_equal(t.q.project_id, "");
	assert_string_equal(t.q.ident, "export_zip:b1");
	assert_string_equal(t.user_id, "u1");
	assert_string_equal(t.request_id, "r1");
	assert_int_equal(t.deadline, 12);
	for (size_t i = 0; i < KG_COUNT(bad); i++)
		assert_int_equal(kg_export_task_parse(bad[i], &t), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_polish_names),
		cmocka_unit_test(test_path_like_names),
		cmocka_unit_test(test_control_and_quotes),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_disposition),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_task_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
