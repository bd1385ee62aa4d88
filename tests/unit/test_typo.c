/* Unit tests of kg_typo: Polish typography rules, money and dates.
 *
 * Expected strings write U+00A0 as '~' (see expand()) so that each case
 * reads on one line; no input below contains a real '~'. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kg_array.h"
#include "kg_typo.h"

#define NBSP "\xc2\xa0"

/* '~' -> U+00A0; the result is malloc'ed. */
static char *
expand(const char *s)
{
	struct kg_buf b = {0};

	for (; *s; s++)
		assert_int_equal(*s == '~' ? kg_buf_puts(&b, NBSP)
					   : kg_buf_append(&b, s, 1), 0);
	return kg_buf_take(&b);
}

/* polish(in) == expected, and polishing the result changes nothing. */
static void
check_polish(const char *in, const char *expected)
{
	struct kg_buf once = {0}, twice = {0};
	char *want = expand(expected);

	assert_int_equal(kg_typo_polish(in, &once), 0);
	assert_string_equal(kg_buf_str(&once), want);
	assert_int_equal(kg_typo_polish(kg_buf_str(&once), &twice), 0);
	assert_string_equal(kg_buf_str(&twice), want);
	kg_buf_free(&once);
	kg_buf_free(&twice);
	free(want);
}

static void
check_money(double amount, const char *expected)
{
	struct kg_buf b = {0};
	char *want = expand(expected);

	assert_int_equal(kg_typo_money(amount, &b), 0);
	assert_string_equal(kg_buf_str(&b), want);
	kg_buf_free(&b);
	free(want);
}

static void
check_date(const char *iso, const char *expected, const char *expected_long)
{
	struct kg_buf b = {0};
	char *want = expand(expected_long);

	assert_int_equal(kg_typo_date(iso, &b), 0);
	assert_string_equal(kg_buf_str(&b), expected);
	kg_buf_reset(&b);
	assert_int_equal(kg_typo_date_long(iso, &b), 0);
	assert_string_equal(kg_buf_str(&b), want);
	kg_buf_free(&b);
	free(want);
}

static void
test_single_letters(void **state)
{
	(void)state;
	check_polish("a w domu i z kotem", "a~w~domu i~z~kotem");
	check_polish("Ala o tym u nas", "Ala o~tym u~nas");
	check_polish("W Krakowie A potem I tak O nim U nas Z tego",
		     "W~Krakowie A~potem I~tak O~nim U~nas Z~tego");
	check_polish("(w domu) [z psem] \"i kot\"",
		     "(w~domu) [z~psem] „i~kot”");
	/* Not single-letter words, not followed by a word, other letters. */
	check_polish("kawa wino zupa", "kawa wino zupa");
	check_polish("plan b i", "plan b i");
	check_polish("e x y b c", "e x y b c");
	check_polish("5a b", "5a b");
	check_polish("w  dwóch spacjach", "w  dwóch spacjach");
	check_polish("w\ndomu", "w\ndomu");
	check_polish("na końcu w", "na końcu w");
	/* After Polish letters and NBSP the rule still sees word starts. */
	check_polish("żółw i ćma", "żółw i~ćma");
	check_polish("x" NBSP "w domu", "x~w~domu");
	check_polish("zapis: a\tb", "zapis: a\tb");
}

static void
test_numbers_and_units(void **state)
{
	(void)state;
	check_polish("10 km i 5 m oraz 15 %", "10~km i~5~m oraz 15~%");
	check_polish("w 2026 r. i 1999 r.", "w~2026~r. i~1999~r.");
	check_polish("Budżet 1 234 567 zł", "Budżet 1~234~567~zł");
	check_polish("100 osób i 3 mln", "100~osób i~3~mln");
	check_polish("50 m² biura", "50~m² biura");
	check_polish("nr 5, ok. 100, art. 12, § 3", "nr~5, ok.~100, art.~12, §~3");
	/* A unit must end a word: "15 marca" keeps its space. */
	check_polish("15 marca i 3 kotki", "15 marca i~3 kotki");
	/* Four-digit groups are not thousands. */
	check_polish("lata 2020 2021", "lata 2020 2021");
	check_polish("1 2345", "1 2345");
	/* An abbreviation inside a word does not count. */
	check_polish("kanr 5", "kanr 5");
}

static void
test_quotes(void **state)
{
	(void)state;
	check_polish("\"tak\"", "„tak”");
	check_polish("Powiedział \"nie\".", "Powiedział „nie”.");
	check_polish("Projekt \"Zielony \"Park\" Miejski\" startuje",
		     "Projekt „Zielony »Park« Miejski” startuje");
	check_polish("(\"a\") [\"b\"]", "(„a”) [„b”]");
	check_polish("\"\"", "„”");
	check_polish("x\"", "x”");
	/* Nesting restarts on a new line. */
	check_polish("\"otwarty\n\"nowy\"", "„otwarty\n„nowy”");
	/* Curly quotes already there keep the nesting right. */
	check_polish("„Park \"Zdrój\"”", "„Park »Zdrój«”");
	check_polish("'pojedyncze'", "'pojedyncze'");
}

static void
test_dashes(void **state)
{
	(void)state;
	check_polish("w latach 2026-2027", "w~latach 2026–2027");
	check_polish("10-15 osób", "10–15~osób");
	check_polish("1,5-2,5 km", "1,5–2,5~km");
	check_polish("(2026-2027).", "(2026–2027).");
	check_polish("Kot - pies", "Kot – pies");
	check_polish("a - b", "a~– b");
	/* Left alone: ISO and Polish dates, postal codes, phone numbers,
	 * year-month, numbers glued to letters, bullets, negatives. */
	check_polish("dnia 2026-03-15 r.", "dnia 2026-03-15~r.");
	check_polish("2026-03-15T10:00", "2026-03-15T10:00");
	check_polish("15-03-2026", "15-03-2026");
	check_polish("00-950 Warszawa", "00-950 Warszawa");
	check_polish("tel. 123-456-789", "tel.~123-456-789");
	check_polish("2026-03", "2026-03");
	check_polish("COVID-19 i A4-5", "COVID-19 i~A4-5");
	check_polish("- punkt\n- drugi", "- punkt\n- drugi");
	check_polish("od -5 do 5", "od -5 do 5");
	check_polish("biało-czerwony", "biało-czerwony");
	check_polish("x -  y", "x -  y");
	check_polish("x - ", "x - ");
}

static void
test_polish_edges(void **state)
{
	struct kg_buf b = {0}, c = {0};
	size_t k;

	(void)state;
	check_polish("", "");
	check_polish(" ", " ");
	check_polish("w", "w");
	check_polish("\"", "„");
	check_polish("-", "-");
	check_polish("1-", "1-");
	check_polish("-1", "-1");
	/* UTF-8 around the rules: emoji, Cyrillic, combining marks. */
	check_polish("😀 w \"🙂\" 1-2 ж - я", "😀 w~„🙂” 1–2 ж – я");
	/* Invalid UTF-8 is copied through byte for byte. */
	check_polish("\xff w \xc3 z", "\xff w~\xc3 z");
	check_polish("\xff w \xc3 zx", "\xff w~\xc3 zx");
	/* Very long input: 20,000 repetitions of a pattern (280 kB). */
	for (k = 0; k < 20000; k++)
		assert_int_equal(kg_buf_puts(&b, "a \"w\" 1-2 - "), 0);
	assert_int_equal(kg_typo_polish(kg_buf_str(&b), &c), 0);
	kg_buf_reset(&b);
	assert_int_equal(kg_typo_polish(kg_buf_str(&c), &b), 0);
	assert_int_equal(b.len, c.len);
	assert_memory_equal(b.data, c.data, b.len);
	assert_memory_equal(c.data, "a" NBSP "„w” 1–2 – a" NBSP "„",
			    strlen("a" NBSP "„w” 1–2 – a" NBSP "„"));
	kg_buf_free(&b);
	kg_buf_free(&c);
}

static void
test_polish_appends(void **state)
{
	struct kg_buf b = {0};

	(void)state;
	assert_int_equal(kg_buf_puts(&b, ">"), 0);
	assert_int_equal(kg_typo_polish("i tak", &b), 0);
	assert_string_equal(kg_buf_str(&b), ">i" NBSP "tak");
	kg_buf_free(&b);
}

static void
test_money(void **state)
{
	struct kg_buf b = {0};

	(void)state;
	check_money(1234567, "1~234~567,00~zł");
	check_money(1234567.891, "1~234~567,89~zł");
	check_money(0, "0,00~zł");
	check_money(-0.0, "0,00~zł");
	check_money(-0.004, "0,00~zł");
	check_money(0.5, "0,50~zł");
	check_money(999.999, "1~000,00~zł");
	check_money(100000, "100~000,00~zł");
	check_money(12.5, "12,50~zł");
	check_money(-12.5, "-12,50~zł");
	check_money(-1234.56, "-1~234,56~zł");
	/* Half away from zero, on the decimal the user typed. */
	check_money(0.125, "0,13~zł");
	check_money(-0.125, "-0,13~zł");
	check_money(2.675, "2,68~zł");
	check_money(1.005, "1,01~zł");
	check_money(0.005, "0,01~zł");
	check_money(0.0049, "0,00~zł");
	check_money(0.1 + 0.2, "0,30~zł");
	check_money(9999999999999.99, "9~999~999~999~999,99~zł");
	assert_int_equal(kg_typo_money(1e13, &b), -1);
	assert_int_equal(kg_typo_money(NAN, &b), -1);
	assert_int_equal(kg_typo_money(INFINITY, &b), -1);
	assert_int_equal(kg_typo_money(-INFINITY, &b), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(kg_typo_money_grosze(-5, &b), 0);
	assert_string_equal(kg_buf_str(&b), "-0,05" NBSP "zł");
	kg_buf_reset(&b);
	assert_int_equal(kg_typo_money_grosze(INT64_MIN, &b), 0);
	assert_string_equal(kg_buf_str(&b),
			    "-92" NBSP "233" NBSP "720" NBSP "368" NBSP "547"
			    NBSP "758,08" NBSP "zł");
	kg_buf_free(&b);
}

static void
test_dates(void **state)
{
	static const char *const bad[] = {
		"", "2026-3-15", "2026-03-15 ", "2026-03-15T10:00:00Z",
		"2026/03/15", "15.03.2026", "2026-13-01", "2026-00-10",
		"2026-01-00", "2026-01-32", "2026-04-31", "2025-02-29",
		"1900-02-29", "0000-01-01", "2026-O3-15", "+026-03-15",
	};
	struct kg_buf b = {0};
	size_t k;

	(void)state;
	check_date("2026-03-15", "15.03.2026", "15~marca 2026~r.");
	check_date("2026-01-01", "01.01.2026", "1~stycznia 2026~r.");
	check_date("2024-02-29", "29.02.2024", "29~lutego 2024~r.");
	check_date("2000-02-29", "29.02.2000", "29~lutego 2000~r.");
	check_date("2026-09-30", "30.09.2026", "30~września 2026~r.");
	check_date("2026-10-05", "05.10.2026", "5~października 2026~r.");
	check_date("2026-12-31", "31.12.2026", "31~grudnia 2026~r.");
	check_date("0001-06-01", "01.06.0001", "1~czerwca 0001~r.");
	for (k = 0; k < KG_COUNT(bad); k++) {
		assert_int_equal(kg_typo_date(bad[k], &b), -1);
		assert_int_equal(kg_typo_date_long(bad[k], &b), -1);
	}
	assert_int_equal(kg_typo_date(NULL, &b), -1);
	assert_int_equal(b.len, 0);
	kg_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_letters),
		cmocka_unit_test(test_numbers_and_units),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_dashes),
		cmocka_unit_test(test_polish_edges),
		cmocka_unit_test(test_polish_appends),
		cmocka_unit_test(test_money),
		cmocka_unit_test(test_dates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
