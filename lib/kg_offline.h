/*
 * kg_offline - the built-in "offline" drafter: deterministic Polish text
 * for every section of a card, assembled from the project's own input
 * row and sentence templates kept as data (table offline_templates,
 * sql/003_generation.sql), with no network and no model.
 *
 * It is the zero-config default so a new installation shows the whole
 * flow without credentials; everything it writes is stored with
 * provider 'offline' so no one mistakes it for LLM output.
 *
 * Templates are sentences with placeholders {name}, {organization},
 * {description}, {goal}, {target_group}, {location}, {keywords},
 * {notes}, {budget} (formatted "1 234 567,00 zł"), {start_date} and
 * {end_date} (DD.MM.RRRR) and {title} (the section title).  A sentence
 * whose placeholder has no value in the row is skipped, so the text
 * never holds an empty slot or an invented fact.  For each section the
 * drafter takes that section's sentences in order, then the general
 * ones (section "*"), while the text stays within the section's
 * max_words, until it reaches min_words.
 *
 * Same input, definitions and templates -> byte-identical output.
 * Every function returns a malloc'ed NUL-terminated JSON text (caller
 * frees) or NULL when memory runs out.
 */
#ifndef KG_OFFLINE_H
#define KG_OFFLINE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "kg_quality.h"

struct kg_offline_tpl {
	const char *section;	/* a section key, or "*" for any */
	const char *text;
};

/* {"facts": {field: value, ...}, "outline": {key: title, ...}} */
char *kg_offline_plan(const cJSON *input, const struct kg_section_def *defs,
		      size_t ndefs);

/* {"sections": {key: text, ...}} for every definition. */
char *kg_offline_draft(const cJSON *input, const struct kg_section_def *defs,
		       size_t ndefs, const struct kg_offline_tpl *tpls,
		       size_t ntpls);

/* Light editing of a draft ({"sections": ...}): whitespace collapsed,
 * first letter capitalised, a final full stop.  NULL if `draft` is not
 * a sections object. */
char *kg_offline_polish(const char *draft);

/* One section's text as kg_offline_draft writes it (caller frees). */
char *kg_offline_section(const cJSON *input, const struct kg_section_def *def,
			 const struct kg_offline_tpl *tpls, size_t ntpls);

/*
 * Regeneration of one section (stage "regenerate"): {"sections": {key:
 * text}} for def->key, deterministically from the section's `current`
 * text, the row and the templates, following a few simple instructions
 * (case-insensitive, Polish letters included; the first that matches):
 *
 *   "krócej", "krótszy/-a/-e", "skróć", "zwięźle"   shorter: sentences
 *       are removed (never the first), each time the longest one whose
 *       removal keeps the text at or above max(min_words, 2/3 of its
 *       length); nothing is removed when none can go
 *   "więcej o X", "więcej na temat X", "rozwiń X"    a sentence about X:
 *       X names a row field by a keyword (grup/odbior/uczestn ->
 *       target_group, budże(t)/koszt/kwot/finans -> budget,
 *       termin/harmonogram/dat -> start_date, miejsc/lokaliz -> location,
 *       cel -> goal, organizac/wnioskodaw/fundacj -> organization,
 *       działa/opis -> description, słow/klucz -> keywords); the first
 *       template (this section's, any other section's, then the general
 *       ones) using that field and not in the text yet is appended;
 *       otherwise one general sentence naming X
 *   "dłużej", "dłuższy/-a/-e", "rozwiń", "więcej"    longer: this
 *       section's templates, then the general ones, not in the text yet,
 *       appended until the text grew by a third (at least one sentence)
 *   anything else, or no instruction: the section drafted again from the
 *       row (kg_offline_section)
 *
 * Everything stays within def->max_words: a sentence that does not fit is
 * skipped, so "longer" at the maximum leaves the text as it is.
 */
char *kg_offline_regenerate(const cJSON *input,
			    const struct kg_section_def *def,
			    const struct kg_offline_tpl *tpls, size_t ntpls,
			    const char *current, const char *instruction);

/* Placeholder value from the row, as the drafter writes it: "" when the
 * row lacks it.  out gets at most size-1 bytes. */
void kg_offline_value(const cJSON *input, const char *field, char *out,
		      size_t size);

struct kg_buf;
/* Expand one template sentence into out (space-separated from what is
 * there): 1 done, 0 (nothing appended) when a placeholder has no value. */
int kg_offline_sentence(const char *tpl, const cJSON *input,
			const char *title, struct kg_buf *out);

#endif
