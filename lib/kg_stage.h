/*
 * kg_stage - the generation pipeline's stages as data and checks:
 * plan (facts and outline as JSON) -> draft (the sections as JSON) ->
 * polish (Polish-language editing, the same JSON shape).
 *
 * Prompts are rows of prompt_templates (sql/003_generation.sql) with
 * {placeholders} that kg_stage_prompt_render() fills; the worker passes the
 * input row, the section definitions and the previous stage's output.
 *
 * Every stage's output is checked before the next stage starts; an
 * output that fails counts as a failed attempt of that stage:
 *   plan          a JSON object whose "outline" object names every
 *                 defined section;
 *   draft/polish  a JSON object whose "sections" object holds every
 *                 defined key as a non-empty string, each between half
 *                 its min_words and one and a half its max_words (the
 *                 quality score judges the exact range), Polish (more
 *                 Polish than English function words), and with no
 *                 template braces left.
 * Models like to wrap JSON in ``` fences or a sentence; the object is
 * taken from the first '{' to the last '}'.
 */
#ifndef KG_STAGE_H
#define KG_STAGE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "kg_quality.h"

#define KG_NSTAGES 3
extern const char *const kg_stage_names[KG_NSTAGES];	/* plan, draft, polish */

/*
 * Validate a stage's output.  0 and *out (the parsed object, caller
 * deletes; out may be NULL) when valid; -1 with a short English reason
 * in why when not.
 */
int kg_stage_validate(const char *stage, const char *text,
		      const struct kg_section_def *defs, size_t ndefs,
		      cJSON **out, char *why, size_t whysize);

/*
 * Replace each {name} in tpl by its value (unknown names are left as
 * they are).  Returns a malloc'ed string, NULL when memory runs out.
 */
char *kg_stage_prompt_render(const char *tpl, const char *const *names,
		       const char *const *values, size_t n);

/* A stage's prompt template (a prompt_templates row). */
struct kg_prompt {
	char *stage, *system, *body;
	int max_tokens;
};

/* The plan, draft and polish templates into p[KG_NSTAGES], in stage
 * order; 500 no_data when one is missing.  kg_stage_prompts_free()
 * releases them (also after a failure). */
struct kg_err;
int kg_stage_prompts_load(struct kg_prompt p[KG_NSTAGES], struct kg_err *err);
void kg_stage_prompts_free(struct kg_prompt p[KG_NSTAGES]);

/*
 * One section of the prompts' {sections_spec} and {section_keys}
 * ("- key (Title, 60-180 słów): guidance" lines, "key, key" list),
 * appended for the index-th section (0-based).  The worker's prompts
 * and the cost estimate (kg_estimate) render exactly the same text.
 */
struct kg_buf;
void kg_stage_spec_add(struct kg_buf *spec, struct kg_buf *keys, int index,
		       const char *key, const char *title, int min_words,
		       int max_words, const char *guidance);

/* 1 if the text reads as Polish (see above). */
int kg_stage_is_polish(const char *text);

#endif
