/*
 * kg_ticket - single-use, short-lived tickets bound to one URL path: how
 * an EventSource, which cannot send an Authorization header, opens
 * GET /api/events/{batchId} without a long-lived credential in its URL.
 *
 *   POST /api/events/{batchId}/ticket   (Bearer)  -> {"ticket": "...", ...}
 *   GET  /api/events/{batchId}?ticket=...         (within 60 s, once)
 *
 * A ticket is 256 random bits (64 hex digits).  Redis keeps only its
 * SHA-256 (kg:ticket:<hash>) with the user, the session (jti, epoch, exp)
 * and the path it was made for, expiring after KG_TICKET_TTL seconds.
 * Redeeming it is one GETDEL: whoever presents it first gets it, a replay
 * finds nothing.  The session it came from is checked again when it is
 * redeemed (kg_auth_session_check), so a ticket dies with its session.
 * A ticket in an access log is worthless: used, or dead within a minute.
 */
#ifndef KG_TICKET_H
#define KG_TICKET_H

#include "kg_auth.h"
#include "kg_err.h"

#define KG_TICKET_TTL 60	/* seconds */
#define KG_TICKET_CHARS 64

/* A new ticket for `path` on behalf of session `s` of `user_id`. */
int kg_ticket_issue(const char *user_id, const struct kg_session *s,
		    const char *path, char out[KG_TICKET_CHARS + 1],
		    struct kg_err *err);

/*
 * Consume `ticket` for `path`: fills user_id (37 bytes) and the session
 * it was made from.  -1 with 401 "invalid_ticket" when it is unknown,
 * used, expired or made for another path; 503 when Redis is down.
 */
int kg_ticket_redeem(const char *ticket, const char *path, char *user_id,
		     struct kg_session *s, struct kg_err *err);

#endif
