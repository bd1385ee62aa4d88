/*
 * kg_quality - the explainable quality score of a project card (0-100).
 *
 * One implementation shared by the worker (after generation) and the
 * PATCH endpoint (after every edit), so a score never depends on who
 * computed it.  The function is pure and deterministic: no clock, no
 * locale, no randomness, no floating point in the scoring; the same
 * card always yields byte-identical JSON.
 *
 * The score is the sum of six criteria.  Each criterion is a share
 * (passed / total) turned into integer points with half-up rounding:
 *
 *     points = (max * 2 * passed + total) / (2 * total)     (integers)
 *
 * so the breakdown always adds up to the score exactly.  A criterion
 * whose total is 0 scores as stated below.  The maxima sum to 100, so
 * the score is within 0..100 (and is clamped there anyway).
 *
 * Only the sections named in `defs` are scored; a section in
 * `sections` whose key is not defined is ignored, a defined key with no
 * section counts as an empty section.  "Non-empty" means the body holds
 * at least one letter or digit.
 *
 * Text handling: UTF-8 throughout.  A "word" (for word counts) is a
 * whitespace-separated token containing at least one letter or digit;
 * Polish letters are letters, NBSP and the other Unicode spaces are
 * whitespace.  Matching is case-insensitive for ASCII, Latin-1 and the
 * Polish letters (Ą Ć Ę Ł Ń Ó Ś Ź Ż), via kg_quality's own folding, so
 * it does not depend on the process locale.
 *
 * completeness (25)
 *     passed = defined sections present and non-empty, total = ndefs.
 *     Flag "empty" on each other section.  ndefs == 0 scores 0.
 *
 * length (20)
 *     passed = sections with min_words <= words <= max_words,
 *     total = ndefs.  Flags "too_short" / "too_long" on non-empty
 *     sections outside the range (an empty one is already "empty").
 *
 * coverage (20)
 *     Facts of the input and the section expected to state them:
 *         name, organization -> summary
 *         budget             -> budget
 *         start_date, end_date -> schedule
 *         target_group       -> target_group
 *     Only facts present in the input count (budget > 0, a valid ISO
 *     date, a text with at least one word; target_group also needs one
 *     significant word, see below).  A fact found in its expected
 *     section earns 1, found only in another section 1/2, nowhere 0
 *     (if the expected section is not defined, anywhere earns 1).
 *     passed/total are counted in halves; no facts in the input = full
 *     points.  A fact not earning 1 is listed in "missing_facts" and
 *     flags "missing_fact" on its expected section.  How a fact is found:
 *       - name, organization: the input's words appear in order as
 *         consecutive words of the text.  Polish declines them, so a
 *         word of 4+ letters matches a text word that starts with all
 *         but its last three letters (at least four kept), Polish
 *         diacritics ignored ("Fundacja" ~ "Fundacji", "szkół" ~
 *         "szkoły"); shorter words and numbers must be equal.
 *       - budget: an amount in the text equal to the budget to the grosz,
 *         in any common spelling: 1234567, 1 234 567, 1 234 567,00,
 *         1.234.567,00 zł, NBSP/thin-space groups, 1234567.50; or an
 *         abbreviated amount that the budget rounds to ("1,2 mln zł" for
 *         1 234 567: equal within half a unit of the last digit;
 *         multipliers tys., mln, mld and the spelled-out words).
 *       - dates: the same day as 2025-03-01, 1.03.2025, 01.03.2025,
 *         01/03/2025, 01-03-2025 or "1 marca 2025"; or the same month as
 *         "marzec 2025", "marca 2025", "w marcu 2025", "03.2025".
 *       - target_group: at least half (rounded up) of its significant
 *         words (4+ letters, not a Polish stop word) occur in the text,
 *         with the same inflection tolerance as names.
 *
 * consistency (15)
 *     Every number, amount and date in a section must be supported by
 *     the input.  Extracted from the text (and, with the same rules,
 *     from every input field, so numbers inside description or notes
 *     count): amounts in the spellings above, plain and decimal numbers,
 *     percentages (their number), full dates, month + year, day + month.
 *     Numbers glued to letters ("COVID-19", "3D", "PM2,5") are names,
 *     not quantities, and are skipped.  A value is supported when:
 *       - a number: it is <= 10 (list positions, step numbers, small
 *         counts); or it equals a number of the input (abbreviated
 *         amounts within rounding, as for coverage); or it is a year
 *         (integer 1900..2100) inside [start year, end year] or the year
 *         of any date in the input; or it equals the project's length in
 *         calendar months (start and end month inclusive);
 *       - a date: it is a date of the input, or lies within
 *         [start_date, end_date]; a day + month without a year must lie
 *         in that range in one of the project's years;
 *       - a month + year: it is the month of an input date or lies
 *         within the start..end months.
 *     passed = non-empty sections with no unsupported value, total =
 *     non-empty sections (no text at all scores 0).  Flag
 *     "unsupported_number"; the offending values, as written, are in
 *     criteria.consistency.unsupported.{section key}.  So a budget
 *     section stating an amount the input does not have always loses
 *     points.
 *
 * language (10)
 *     passed = non-empty sections with none of the flags below,
 *     total = non-empty sections (no text at all scores 0):
 *       - "english": a sentence (text up to . ! ? ; : or a line end)
 *         with at least 2 English stop words ("the", "and", "of",
 *         "with", "project", ...) and more of them than Polish evidence
 *         (Polish stop words plus words with Polish diacritics);
 *       - "placeholder": "[...]", "[…]", "(...)", "{{", "lorem ipsum",
 *         "do uzupełnienia", the words TODO, TBD, FIXME, XXX, or a
 *         bracketed label such as "[nazwa]" or "<nazwa organizacji>"
 *         (square brackets holding only digits, "[1]", are citations);
 *       - "markdown": "**", "__", "```", "](", "|---", or a line that
 *         starts with "#" followed by "#" or a space.  Plain "- " and
 *         "* " bullets at a line start are accepted: they read fine as
 *         plain text in the editor and in the .docx.
 *
 * review (10)
 *     passed = sections marked reviewed (a human reviewed or edited
 *     them), total = ndefs.  ndefs == 0 scores 0.
 */
#ifndef KG_QUALITY_H
#define KG_QUALITY_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* One row of section_defs (position is the array order). */
struct kg_section_def {
	const char *key;
	const char *title;
	int min_words;
	int max_words;
};

/* The current text of one section; body NULL is the same as "". */
struct kg_quality_section {
	const char *key;
	const char *body;
	int reviewed;	/* a human reviewed or edited it */
};

/*
 * Score a card.  `input` is the project's normalised input row (a cJSON
 * object with the canonical keys; NULL or a non-object counts as an
 * empty input).  Returns a new object the caller frees with
 * cJSON_Delete(), or NULL when memory runs out:
 *
 *   {"score": 0..100,
 *    "criteria": {"completeness": {"score": n, "max": 25, "detail": ".."},
 *                 "length": {.., "max": 20}, "coverage": {.., "max": 20},
 *                 "consistency": {.., "max": 15, "unsupported": {..}},
 *                 "language": {.., "max": 10}, "review": {.., "max": 10}},
 *    "sections": {"<key>": ["too_short", ...], ...},   (every defined key)
 *    "missing_facts": ["budget", ...]}
 *
 * Section flags, always in this order: empty, too_short, too_long,
 * missing_fact, unsupported_number, english, placeholder, markdown.
 * "detail" is a short Polish explanation for the editor.
 */
cJSON *kg_quality_score(const cJSON *input,
			const struct kg_section_def *defs, size_t ndefs,
			const struct kg_quality_section *sections,
			size_t nsections);

/* Words in `text` as the length criterion counts them (NULL = 0). */
int kg_quality_word_count(const char *text);

#endif
