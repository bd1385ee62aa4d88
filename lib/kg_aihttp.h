/*
 * kg_aihttp - what the network AI providers (bedrock, azure, openai)
 * share, so that none of them carries its own copy:
 *
 *   - one HTTP POST on the worker's curl multi loop (kg_aihttp_start):
 *     connect and total timeouts, a bounded response buffer, the
 *     Retry-After / retry-after-ms / x-amzn-ErrorType headers, and the
 *     classification of what came back into the ai_calls outcome
 *     vocabulary (ok, timeout, rate_limited, error) plus "can a retry
 *     help";
 *   - the two wire formats: Anthropic messages (Bedrock InvokeModel) and
 *     OpenAI chat completions (Azure OpenAI and every OpenAI-compatible
 *     server), body building and answer parsing as pure functions;
 *   - the price table ([ai] prices) that turns token counts into cost.
 *
 * A provider file only knows its URL, its authentication and its
 * format: it fills a struct kg_aihttp_spec and calls kg_aihttp_start();
 * its cancel is kg_aihttp_cancel.
 *
 * Secrets: headers carrying keys go to curl and nowhere else; an error
 * message taken from a server's answer is cut to its first line (AWS's
 * signature-mismatch message goes on to quote the canonical request,
 * which may hold the session token).
 */
#ifndef KG_AIHTTP_H
#define KG_AIHTTP_H

#include <curl/curl.h>
#include <stddef.h>
#include <time.h>

#include "kg_buf.h"
#include "kg_ai.h"

/* Largest answer body kept; a longer one is an error. */
#define KG_AIHTTP_MAX_BODY ((size_t)8 << 20)

/* What a format parser takes from a successful answer. */
struct kg_aihttp_reply {
	char *text;			/* malloc'ed; the caller frees */
	int tokens_in, tokens_out;	/* -1 when the answer has no usage */
};

typedef int (*kg_aihttp_parse_fn)(const char *body, size_t len,
				  struct kg_aihttp_reply *out, char *why,
				  size_t whysize);

/* --- wire formats (pure) ------------------------------------------- */

/* Bedrock InvokeModel body for Anthropic models: anthropic_version
 * bedrock-2023-05-31, max_tokens, system, one user message.  Caller
 * frees; NULL when memory runs out. */
char *kg_aihttp_anthropic_body(const struct kg_ai_request *req);
/* content[].text (joined) and usage.input_tokens/output_tokens.
 * 0, or -1 with a short reason (invalid JSON, no text). */
int kg_aihttp_anthropic_parse(const char *body, size_t len, struct kg_aihttp_reply *out,
		       char *why, size_t whysize);

/* Chat completions body: system + user messages, max_tokens, and
 * "model" when model is not NULL (Azure names the deployment in the
 * URL instead).  Caller frees. */
char *kg_aihttp_chat_body(const struct kg_ai_request *req, const char *model);
/* choices[0].message.content and usage.prompt_tokens/completion_tokens. */
int kg_aihttp_chat_parse(const char *body, size_t len, struct kg_aihttp_reply *out,
		  char *why, size_t whysize);

/* --- classification (pure) ----------------------------------------- */

struct kg_aihttp_outcome {
	const char *outcome;	/* ok, timeout, rate_limited, error */
	int retryable;
};

/*
 * What one exchange means.  Transport failures and 5xx: error, worth a
 * retry (a truncated body is CURLE_PARTIAL_FILE); curl's timeout and 408:
 * timeout, retry; 429: rate_limited, retry; any other 4xx (400 bad
 * request, 401/403 credentials or signature, 404 model or deployment)
 * cannot succeed on retry.  2xx is "ok" here; the caller still has to
 * parse the body (an unparsable one is an error worth a retry).
 */
struct kg_aihttp_outcome kg_aihttp_classify(CURLcode rc, long status);

/*
 * Milliseconds the server asked us to wait: retry-after-ms (Azure) wins,
 * else Retry-After as delta-seconds or an HTTP-date (relative to now).
 * -1 when neither is present or parsable.  Either argument may be NULL.
 */
long kg_aihttp_retry_after(const char *retry_after,
			   const char *retry_after_ms, time_t now);

/*
 * The human part of an error answer: AWS {"message"} / {"Message"},
 * OpenAI and Azure {"error": {"message"}} or {"error": "..."}, else the
 * body's start; first line only, at most outsize - 1 bytes.
 */
void kg_aihttp_error_message(const char *body, size_t len, char *out,
			     size_t outsize);

/*
 * Cost of a call from the price table "model=in:out, model=in:out":
 * prices per 1000 input and output tokens (Bedrock model ids contain
 * ':' and OpenAI-compatible ones '/', so the model ends at the last
 * '=').  Spaces around entries are ignored.  0 and *cost, or -1 (cost 0) when the model is not
 * in the table or the table is malformed.
 */
int kg_aihttp_price(const char *table, const char *model, int tokens_in,
		int tokens_out, double *cost);

/* --- the call ------------------------------------------------------- */

struct kg_aihttp_spec {
	const char *url;
	struct curl_slist *headers;	/* taken over, also on failure */
	char *body;			/* malloc'ed, taken over likewise */
	const char *model;		/* copied: result, price table */
	kg_aihttp_parse_fn parse;
};

/*
 * Send the request on call->loop and, when it ends, kg_ai_finish() the
 * call with the classified result.  Timeouts: [ai] connect_timeout_ms,
 * and req->timeout_ms or [ai] timeout_ms for the whole exchange.
 * 0, or -1 with err set (nothing was sent, nothing will be finished).
 */
int kg_aihttp_start(struct kg_ai_call *call, struct kg_aihttp_spec *spec,
		    struct kg_err *err);
void kg_aihttp_cancel(struct kg_ai_call *call);

/*
 * The chat-completions request of the OpenAI-style providers (Azure,
 * OpenAI-compatible): kg_aihttp_chat_body(req, body_model) as JSON to
 * url, with the key in one header (`key_header: key_value`; none when
 * key_value is ""), parsed by kg_aihttp_chat_parse.  As kg_aihttp_start.
 */
int kg_aihttp_start_chat(struct kg_ai_call *call, const char *url,
			 const char *model, const char *body_model,
			 const char *key_header, const char *key_value,
			 struct kg_err *err);

/* A header line "Name: value" appended to *list; -1 out of memory. */
int kg_aihttp_header(struct curl_slist **list, const char *name,
		     const char *value);

/* Endpoint with trailing slashes cut, into b; -1 if empty or not
 * http(s)://. */
int kg_aihttp_base(struct kg_buf *b, const char *endpoint);

#endif
