#include "kg_loop.h"
#include "kg_clock.h"

#include <stdlib.h>
#include <time.h>

/*
 * Timers live in an unsorted array: a worker holds at most a few hundred
 * (one per in-flight call plus housekeeping), so a linear scan per
 * iteration costs less than keeping a heap in order.
 */
struct loop_timer {
	uint64_t id;
	int64_t due;
	kg_timer_fn fn;
	void *arg;
};

struct loop_easy {
	CURL *easy;
	kg_easy_fn fn;
	void *arg;
	struct loop_easy *prev, *next;
};

struct loop_watch {
	int fd;
	kg_timer_fn fn;
	void *arg;
};

struct kg_loop {
	CURLM *multi;
	struct loop_watch watches[KG_LOOP_WATCHES];
	int nwatches;
	struct loop_timer *timers;
	int ntimers, cap;
	uint64_t next_id;
	int transfers;
	struct loop_easy *easies;	/* every transfer in the multi */
};

static void
easy_unlink(struct kg_loop *loop, struct loop_easy *le)
{
	if (le->prev)
		le->prev->next = le->next;
	else
		loop->easies = le->next;
	if (le->next)
		le->next->prev = le->prev;
	curl_multi_remove_handle(loop->multi, le->easy);
	curl_easy_setopt(le->easy, CURLOPT_PRIVATE, NULL);
	loop->transfers--;
	free(le);
}

int64_t
kg_loop_now_ms(void)
{
	return kg_clock_ms();
}

struct kg_loop *
kg_loop_new(struct kg_err *err)
{
	struct kg_loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return kg_err_set(err, 500, "internal", "out of memory"), NULL;
	loop->multi = curl_multi_init();
	if (!loop->multi) {
		free(loop);
		return kg_err_set(err, 500, "internal", "curl_multi_init"),
		       NULL;
	}
	loop->next_id = 1;
	return loop;
}

void
kg_loop_free(struct kg_loop *loop)
{
	if (!loop)
		return;
	/* Easy handles belong to their providers; only detach them. */
	while (loop->easies)
		easy_unlink(loop, loop->easies);
	curl_multi_cleanup(loop->multi);
	free(loop->timers);
	free(loop);
}

uint64_t
kg_loop_timer(struct kg_loop *loop, int64_t delay_ms, kg_timer_fn fn,
	      void *arg)
{
	struct loop_timer *t;

	if (loop->ntimers == loop->cap) {
		int cap = loop->cap ? loop->cap * 2 : 64;
		void *p = realloc(loop->timers, (size_t)cap * sizeof(*t));

		if (!p)
			return 0;
		loop->timers = p;
		loop->cap = cap;
	}
	t = &loop->timers[loop->ntimers++];
	t->id = loop->next_id++;
	t->due = kg_loop_now_ms() + (delay_ms > 0 ? delay_ms : 0);
	t->fn = fn;
	t->arg = arg;
	return t->id;
}

void
kg_loop_timer_cancel(struct kg_loop *loop, uint64_t id)
{
	for (int i = 0; id && i < loop->ntimers; i++) {
		if (loop->timers[i].id == id) {
			loop->timers[i] = loop->timers[--loop->ntimers];
			return;
		}
	}
}

int
kg_loop_add_easy(struct kg_loop *loop, CURL *easy, kg_easy_fn fn, void *arg,
		 struct kg_err *err)
{
	struct loop_easy *le = calloc(1, sizeof(*le));

	if (!le)
		return kg_err_set(err, 500, "internal", "out of memory");
	le->easy = easy;
	le->fn = fn;
	le->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, le);
	if (curl_multi_add_handle(loop->multi, easy) != CURLM_OK) {
		free(le);
		return kg_err_set(err, 500, "internal",
				  "curl_multi_add_handle failed");
	}
	le->next = loop->easies;
	if (le->next)
		le->next->prev = le;
	loop->easies = le;
	loop->transfers++;
	return 0;
}

void
kg_loop_remove_easy(struct kg_loop *loop, CURL *easy)
{
	struct loop_easy *le = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&le);
	if (le)
		easy_unlink(loop, le);
}

int
kg_loop_watch(struct kg_loop *loop, int fd, kg_timer_fn fn, void *arg,
	      struct kg_err *err)
{
	if (loop->nwatches == KG_LOOP_WATCHES)
		return kg_err_set(err, 500, "internal", "too many watched fds");
	loop->watches[loop->nwatches++] = (struct loop_watch){fd, fn, arg};
	return 0;
}

void
kg_loop_unwatch(struct kg_loop *loop, int fd)
{
	for (int i = 0; i < loop->nwatches; i++) {
		if (loop->watches[i].fd == fd) {
			loop->watches[i] = loop->watches[--loop->nwatches];
			return;
		}
	}
}

static int
next_wait(const struct kg_loop *loop, int max_wait_ms)
{
	int64_t now = kg_loop_now_ms(), wait = max_wait_ms;

	for (int i = 0; i < loop->ntimers; i++)
		if (loop->timers[i].due - now < wait)
			wait = loop->timers[i].due - now;
	return wait < 0 ? 0 : (int)wait;
}

static int
finish_transfers(struct kg_loop *loop)
{
	CURLMsg *msg;
	int left, ran = 0;

	while ((msg = curl_multi_info_read(loop->multi, &left))) {
		struct loop_easy *le = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&le);
		if (le) {
			kg_easy_fn fn = le->fn;
			void *arg = le->arg;

			easy_unlink(loop, le);
			fn(arg, easy, rc);
			ran++;
		}
	}
	return ran;
}

/*
 * Fires due timers one at a time, re-scanning after each: a callback
 * may add or cancel timers, which moves entries in the array.
 */
static int
fire_timers(struct kg_loop *loop)
{
	int64_t now = kg_loop_now_ms();
	uint64_t limit = loop->next_id;	/* timers added now wait a turn */
	int ran = 0, found = 1;

	while (found) {
		found = 0;
		for (int i = 0; i < loop->ntimers; i++) {
			struct loop_timer t = loop->timers[i];

			if (t.due > now || t.id >= limit)
				continue;
			loop->timers[i] = loop->timers[--loop->ntimers];
			t.fn(t.arg);
			ran++;
			found = 1;
			break;
		}
	}
	return ran;
}

/* The watched fds that the last poll found readable (fn may unwatch
 * its own fd: the list is copied first). */
static int
fire_watches(const struct loop_watch *w, const struct curl_waitfd *fds,
	     int n)
{
	int ran = 0;

	for (int i = 0; i < n; i++) {
		if (!(fds[i].revents & CURL_WAIT_POLLIN))
			continue;
		w[i].fn(w[i].arg);
		ran++;
	}
	return ran;
}

int
kg_loop_run_once(struct kg_loop *loop, int max_wait_ms)
{
	struct loop_watch w[KG_LOOP_WATCHES];
	struct curl_waitfd fds[KG_LOOP_WATCHES];
	int running, numfds, ran, n = loop->nwatches;

	for (int i = 0; i < n; i++) {
		w[i] = loop->watches[i];
		fds[i] = (struct curl_waitfd){w[i].fd, CURL_WAIT_POLLIN, 0};
	}
	if (curl_multi_poll(loop->multi, fds, (unsigned)n,
			    next_wait(loop, max_wait_ms), &numfds) != CURLM_OK)
		return -1;
	if (curl_multi_perform(loop->multi, &running) != CURLM_OK)
		return -1;
	ran = fire_watches(w, fds, n);
	ran += finish_transfers(loop);
	return ran + fire_timers(loop);
}

void
kg_loop_kick(struct kg_loop *loop)
{
	int running;

	if (loop->transfers)
		curl_multi_perform(loop->multi, &running);
}

int
kg_loop_pending(const struct kg_loop *loop)
{
	return loop->ntimers + loop->transfers;
}
