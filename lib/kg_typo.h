/*
 * kg_typo - Polish typography and number/date formats, on UTF-8.
 *
 * The project card is a document people hand on to others, so its text
 * has to follow Polish typesetting rules that an LLM (or a user typing in
 * a textarea) does not: no single-letter word at the end of a line, „…”
 * quotes, en dashes in ranges, amounts as `1 234 567,00 zł`.  These
 * functions are pure (no locale, no clock) and every one of them
 * APPENDS to `out`; on failure (-1) `out` may hold a partial result only
 * if memory ran out, never for invalid input.
 *
 * kg_typo_polish() rules, applied in one left-to-right pass over the
 * input.  Every decision looks at the input bytes only, and the rules
 * never create a new occasion for one another, so the function is
 * idempotent: polish(polish(x)) == polish(x).
 *
 *  1. NBSP (U+00A0) instead of the ASCII space after a single-letter word
 *     (a i o u w z A I O U W Z) that starts after a space, an opening
 *     bracket or quote, or the start of the text ("sierotki").
 *  2. NBSP instead of the space between a number and a following unit or
 *     abbreviation ("10 km", "2026 r.", "1 234 zł", "15 %"), between an
 *     abbreviation and a following number ("nr 5", "ok. 100", "art. 12"),
 *     and between a digit and a following group of exactly three digits
 *     ("1 234 567") so an amount never breaks.  The words are tables in
 *     kg_typo.c, not code.
 *  3. Straight double quotes become „ (U+201E) at an opening position
 *     (start, after whitespace, an opening bracket or another opening
 *     quote or a dash) and ” (U+201D) elsewhere; a quote opened inside
 *     „…” becomes »…« (U+00BB, U+00AB).  Quote nesting restarts at every
 *     newline, so one stray quote cannot flip a whole document.
 *  4. A hyphen between two numbers (2026-2027, 10-15, 1,5-2,5) becomes an
 *     en dash (U+2013) without spaces.  Left alone on purpose: chains of
 *     two or more hyphens (ISO dates 2026-03-15, 15-03-2026, phone
 *     numbers 123-456-789), Polish postal codes (exactly 2 digits, hyphen,
 *     3 digits: 00-950), year-month (2026-03), and numbers glued to
 *     letters (COVID-19, A4-5).  The price: a range written like a postal
 *     code ("10-150") keeps its hyphen.
 *  5. " - " between two words becomes " – " (spaced en dash).  A line
 *     that starts with "- " (a list bullet) is not touched.
 *
 * Invalid UTF-8 is copied through unchanged; clean the text first (see
 * kg_docx_sanitize) if it must be valid.
 */
#ifndef KG_TYPO_H
#define KG_TYPO_H

#include "kg_buf.h"

/* Apply the rules above to the NUL-terminated `in`; appends to `out`. */
int kg_typo_polish(const char *in, struct kg_buf *out);

/*
 * An amount in złoty: "1 234 567,00 zł", "-12,50 zł", "0,00 zł", with
 * U+00A0 as the thousands separator and before "zł", a hyphen-minus for
 * negative amounts.  The amount is rounded half away from zero to whole
 * grosze as it reads in decimal (2.675 -> 2,68; 1.005 -> 1,01), not as
 * the nearest binary double happens to lie, because amounts come from
 * spreadsheets typed in decimal.  NaN, infinities and |amount| >= 1e13
 * return -1.
 */
int kg_typo_money(double amount, struct kg_buf *out);

/* An amount already in integer grosze, formatted as kg_typo_money(). */
int kg_typo_money_grosze(long long grosze, struct kg_buf *out);

/*
 * "2026-03-15" -> "15.03.2026".  Exactly YYYY-MM-DD (10 bytes, nothing
 * after it) and a real calendar date (leap years checked, year
 * 0001-9999); anything else returns -1 and appends nothing.
 */
int kg_typo_date(const char *iso, struct kg_buf *out);

/*
 * "2026-03-15" -> "15 marca 2026 r." (genitive month name), with U+00A0
 * after the day and before "r." so neither is left alone at a line end.
 * Same validation as kg_typo_date().
 */
int kg_typo_date_long(const char *iso, struct kg_buf *out);

#endif
