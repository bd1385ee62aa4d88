/*
 * kg_loop - the worker's event loop: libcurl's multi interface plus
 * timers, in one thread.
 *
 * Every provider call is asynchronous.  A network provider adds a curl
 * easy handle (kg_loop_add_easy) and is told when the transfer ends; the
 * offline provider and every back-off or housekeeping job set a timer
 * (kg_loop_timer).  kg_loop_run_once() sleeps in curl_multi_poll() until
 * a socket is ready, the next timer is due, or max_wait_ms passes, then
 * drives the transfers and fires the due timers.  So one process keeps
 * many LLM calls in flight at once, and the offline provider goes
 * through exactly the same machinery (scheduling, concurrency limits,
 * cancellation) as the real ones.  A watched fd (kg_loop_watch) wakes
 * the loop for something else: the worker's export wake-up.
 *
 * Callbacks run from inside kg_loop_run_once(), never re-entrantly; a
 * callback may add and cancel timers and transfers.
 */
#ifndef KG_LOOP_H
#define KG_LOOP_H

#include <curl/curl.h>
#include <stdint.h>

#include "kg_err.h"

struct kg_loop;

typedef void (*kg_timer_fn)(void *arg);
/* A finished transfer: result is CURLE_OK or the failure. */
typedef void (*kg_easy_fn)(void *arg, CURL *easy, CURLcode result);

struct kg_loop *kg_loop_new(struct kg_err *err);
/* Cancels every timer and transfer (their callbacks are not called). */
void kg_loop_free(struct kg_loop *loop);

/* kg_clock_ms(): the loop's timers run on the one clock (kg_clock.h). */
int64_t kg_loop_now_ms(void);

/* Call fn(arg) once, delay_ms from now.  Returns a timer id (> 0), or
 * 0 when memory runs out. */
uint64_t kg_loop_timer(struct kg_loop *loop, int64_t delay_ms,
		       kg_timer_fn fn, void *arg);
/* Cancel a pending timer (no-op for 0, fired or unknown ids). */
void kg_loop_timer_cancel(struct kg_loop *loop, uint64_t id);

/* Drive `easy` in the loop; fn runs once when it ends.  The loop does
 * not own the handle: fn (or kg_loop_remove_easy) gives it back. */
int kg_loop_add_easy(struct kg_loop *loop, CURL *easy, kg_easy_fn fn,
		     void *arg, struct kg_err *err);
/* Stop a transfer without calling its callback. */
void kg_loop_remove_easy(struct kg_loop *loop, CURL *easy);

/* Call fn(arg) from kg_loop_run_once whenever fd is readable (a Redis
 * subscription, say): a loop waiting in curl_multi_poll wakes for
 * it at once.  At most KG_LOOP_WATCHES fds; fn must make fd unreadable
 * again (read it) or unwatch it.  -1 + err when full. */
#define KG_LOOP_WATCHES 4
int kg_loop_watch(struct kg_loop *loop, int fd, kg_timer_fn fn, void *arg,
		  struct kg_err *err);
/* Stop watching fd (no-op if not watched). */
void kg_loop_unwatch(struct kg_loop *loop, int fd);

/* Wait (at most max_wait_ms) and dispatch; returns the number of
 * callbacks run, -1 on a curl failure. */
int kg_loop_run_once(struct kg_loop *loop, int max_wait_ms);

/* Let curl start what was added since the last turn now (a request goes
 * out at once, not at the next kg_loop_run_once), without waiting and
 * without callbacks: transfers that end are handled by the next turn.
 * For a caller that adds a transfer and then still has work to do
 * before the loop turns again. */
void kg_loop_kick(struct kg_loop *loop);

/* Pending timers + transfers (for tests and shutdown). */
int kg_loop_pending(const struct kg_loop *loop);

#endif
