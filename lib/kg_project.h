/*
 * kg_project - a project card as the editor sees it, and every way its
 * text changes after generation: a human edit or review (PATCH), a
 * revert to an earlier revision, and an AI regeneration of one section
 * (stored by the worker).  One module so that all of them follow the same
 * rules:
 *
 *   - Optimistic concurrency.  Every change runs in ONE transaction that
 *     locks the project row (SELECT ... FOR UPDATE), checks the expected
 *     projects.version and bumps it.  Two writers holding the same
 *     version: the second waits for the first's COMMIT, then sees the new
 *     version and gets 409 with nothing changed.
 *   - Only COMPLETED projects change (409 "not_editable" otherwise): a
 *     QUEUED or GENERATING project's sections are about to be rewritten
 *     by the worker.
 *   - History.  section_revisions rows are written by the database
 *     trigger (sql/001_schema.sql); this module only sets
 *     sections.updated_by (the user, NULL for AI text) and the
 *     transaction's kartograf.revision_note.
 *   - Quality.  After the sections change, the score is recomputed with
 *     kg_quality_score() over all defined sections and the input row and
 *     stored in the same transaction, so a stored score always belongs to
 *     the stored text.
 *   - Text.  Everything stored goes through kg_utf8_clean(): plain
 *     text, valid UTF-8, no control characters but \n and \t, at most
 *     KG_SECTION_MAX_CHARS characters.
 *
 * Every function that takes a user scopes the project to it (admins see
 * all); someone else's project is 404, never 403.
 */
#ifndef KG_PROJECT_H
#define KG_PROJECT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "kg_buf.h"
#include "kg_auth.h"
#include "kg_err.h"
#include "kg_user.h"

#define KG_SECTION_MAX_CHARS 20000	/* = sections_body_length_check */
#define KG_INSTRUCTION_MAX_CHARS 500

/*
 * Section regeneration requests go to their own queue (kg_queue.h), not
 * to "generate": the generation worker acknowledges and drops task kinds
 * it does not know, and a regeneration must wait for a worker that does.
 * Task JSON: {"kind": "regenerate_section", "project_id", "batch_id",
 * "section", "instruction" (may be ""), "version", "user_id",
 * "request_id"} (request_id: the regeneration_requests row; the row, not
 * the task, is the truth - see kg_project_store_regeneration).
 */
#define KG_QUEUE_REGENERATE "regenerate"
#define KG_TASK_REGENERATE "regenerate_section"

/* Whether u may see project `id` (the rule of its batch, kg_batch.h):
 * 0, or -1 with 404 "not_found" (or a database error) in err. */
int kg_project_visible(const char *id, const struct kg_user *u,
		       struct kg_err *err);

/*
 * The project as GET /api/projects/{id} shows it (caller frees):
 *   {id, batch_id, row, name, status, progress, version, provider,
 *    offline, error, input, quality_score, quality, updated_at,
 *    sections: [{key, title, position, min_words, max_words, body,
 *                origin, reviewed, provider, offline, updated_at,
 *                version, flags}, ...]}     (card order, all defined keys;
 * a section not written yet has body, origin, updated_at, version null).
 * NULL with 404 if there is no such project for this user.
 */
cJSON *kg_project_get(const char *id, struct kg_user *u,
		      const struct kg_session *s, struct kg_err *err);

/*
 * The same card as JSON text appended to `out` (what the API sends,
 * byte for byte the tree above printed by cJSON), made in one pass from
 * one statement's rows; *version gets projects.version (the ETag).
 * The same statement re-reads the signed-in user u->id and its session
 * `s` (kg_auth_session_row: a deleted user or an ended session -> 401
 * before anything else) and fills the rest of `u` (fresh role), so
 * GET needs one round trip (KG_ROUTE_AUTH_INLINE).
 * 0, or -1 with 401 / 404 / a database error.
 */
int kg_project_get_json(const char *id, struct kg_user *u,
			const struct kg_session *s, struct kg_buf *out,
			int *version, struct kg_err *err);

/* One section change of a PATCH. */
struct kg_section_edit {
	const char *key;
	const char *body;	/* cleaned text, NULL = keep the text */
	int reviewed;		/* 1, 0, or -1 = by the rule below */
};

/* What a successful change left behind (for the answer and the event). */
struct kg_project_saved {
	char batch_id[37];
	int version;		/* the new projects.version */
	int quality_score;
	long long seq;		/* its event's seq (kg_event), -1 if none */
};

/*
 * Apply `n` section edits as user `u`, expecting the project at
 * `version`.  The rule: a body that differs from the stored one is a
 * human edit - origin becomes 'human', the provider is cleared, and the
 * section counts as reviewed unless the edit says "reviewed": false (the
 * person who wrote it has read it).  A body equal to the stored one is no
 * edit (an editor may send the whole card back).  "reviewed" alone marks
 * or unmarks a section without touching its text.  `note` (may be NULL)
 * is stored on the revision rows.
 *
 * Errors: 404 not_found, 422 unknown_section (nothing changed), 409
 * not_editable (status is not COMPLETED), 409 version_conflict.
 */
int kg_project_edit(const char *project_id, const struct kg_user *u,
		    int version, const struct kg_section_edit *edits,
		    size_t n, const char *note, struct kg_project_saved *out,
		    struct kg_err *err);

/*
 * Set section `key` back to the text of revision `revision_id` (its
 * new_body), as a human edit by `u` (origin human, reviewed), with the
 * note "revert to #<id>".  Same concurrency and errors as
 * kg_project_edit, plus 422 unknown_revision when the revision does not
 * belong to this project and section.
 */
int kg_project_revert(const char *project_id, const struct kg_user *u,
		      int version, const char *key, long long revision_id,
		      struct kg_project_saved *out, struct kg_err *err);

/*
 * The worker's half of a section regeneration: store `body` (cleaned
 * here) as the section's new AI text (origin 'ai', `provider`, not
 * reviewed, updated_by NULL, revision note `note`), bump the version and
 * recompute the quality, in one transaction.  `expected_version` > 0
 * stores only if the project is still at that version (409
 * version_conflict otherwise: the user changed the card since asking, and
 * the regenerated text must not overwrite that); 0 stores regardless.
 * Not scoped to a user (the worker acts for the system).
 */
int kg_project_store_ai_section(const char *project_id, const char *key,
				const char *body, const char *provider,
				const char *note, int expected_version,
				struct kg_project_saved *out,
				struct kg_err *err);

/*
 * The same for a recorded regeneration request (regeneration_requests,
 * sql/004_regenerate.sql, id `request_id`): in the one transaction the
 * request row is deleted, the expected version is the row's
 * requested_version, and the project's other pending requests at that
 * version move on to the new version (our own change must not make them
 * stale).  409 "already_done" when the row is gone (a duplicate
 * delivery: the request was already stored or given up), otherwise the
 * errors of kg_project_store_ai_section; on any error nothing changes and
 * the row stays.
 */
int kg_project_store_regeneration(const char *request_id,
				  const char *project_id, const char *key,
				  const char *body, const char *provider,
				  const char *note,
				  struct kg_project_saved *out,
				  struct kg_err *err);

/*
 * After COMMIT: tell the batch's live view that the project changed
 * (project.status_changed, status COMPLETED, progress 100, the new
 * quality score, message `why`).  -1 if Redis is down (PostgreSQL holds
 * the truth; the relay's snapshot catches up).
 */
int kg_project_publish(const char *project_id,
		       const struct kg_project_saved *s, const char *why,
		       struct kg_err *err);

/*
 * Revisions of one section, newest first:
 *   {project_id, key, total, limit, offset, revisions: [{id, created_at,
 *    user: {id, email, display_name} | null, origin, reviewed, provider,
 *    old_body, new_body, note}, ...]}
 * 404 for a project the user cannot see, 422 unknown_section.
 */
cJSON *kg_project_revisions(const char *project_id, const char *key,
			    const struct kg_user *u, long long limit,
			    long long offset, struct kg_err *err);

/*
 * Check that a section of a COMPLETED project at `version` may be
 * regenerated, record the request (a regeneration_requests row, in the
 * same transaction as the check) and queue it for the worker
 * (KG_QUEUE_REGENERATE; the task carries "request_id").  `instruction` is
 * cleaned text or NULL.  Errors as kg_project_edit.  Redis down is no
 * error: the request is recorded and the worker's reconciler queues it.
 */
int kg_project_request_regeneration(const char *project_id, const char *key,
				    const struct kg_user *u, int version,
				    const char *instruction,
				    struct kg_err *err);

/* The task JSON of a regeneration request (above; caller frees), built
 * here once for the API's push and the worker's reconciler. */
struct kg_regen_task {
	const char *project_id, *batch_id, *section, *instruction;
	const char *user_id, *request_id;
	int version;
};
char *kg_project_regen_task(const struct kg_regen_task *t);

#endif
