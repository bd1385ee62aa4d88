/*
 * The pool: one mutex guards both lists (work waiting for a thread,
 * work finished and waiting for its done); a condition variable wakes
 * an idle thread; the eventfd wakes the loop.  Every field below the
 * mutex is only touched with it held, except `busy`, which only the
 * loop's thread touches (run, collect).
 */
#include "kg_pool.h"

#include "kg_db.h"
#include "kg_redis.h"

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct pool_item {
	struct pool_item *next;
	kg_pool_fn work, done;
	void *arg;
};

struct item_list {
	struct pool_item *head, *tail;
};

struct kg_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item_list todo, finished;	/* under mu */
	int stopping;				/* under mu */
	int efd;
	int busy;				/* loop thread only */
	int running;				/* loop thread only */
	int nthreads;
	kg_pool_fn init;
	pthread_t *threads;
};

static void
list_push(struct item_list *l, struct pool_item *it)
{
	it->next = NULL;
	if (l->tail)
		l->tail->next = it;
	else
		l->head = it;
	l->tail = it;
}

static struct pool_item *
list_take_all(struct item_list *l)
{
	struct pool_item *head = l->head;

	l->head = l->tail = NULL;
	return head;
}

static struct pool_item *
next_item(struct kg_pool *p)
{
	struct pool_item *it;

	pthread_mutex_lock(&p->mu);
	while (!p->todo.head && !p->stopping)
		pthread_cond_wait(&p->cv, &p->mu);
	it = p->todo.head;
	if (it) {
		p->todo.head = it->next;
		if (!p->todo.head)
			p->todo.tail = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	return it;
}

static void
signal_loop(struct kg_pool *p)
{
	uint64_t one = 1;

	while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void *
thread_main(void *arg)
{
	struct kg_pool *p = arg;
	struct pool_item *it;

	if (p->init)
		p->init(NULL);

	while ((it = next_item(p))) {
		it->work(it->arg);
		pthread_mutex_lock(&p->mu);
		list_push(&p->finished, it);
		pthread_mutex_unlock(&p->mu);
		signal_loop(p);
	}
	/* This thread's own connections (thread-local in kg_db/kg_redis). */
	kg_db_close();
	kg_redis_close();
	return NULL;
}

static void
stop_threads(struct kg_pool *p, int n)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
	p->running = 0;
}

static void
pool_destroy(struct kg_pool *p)
{
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	if (p->efd >= 0)
		close(p->efd);
	free(p->threads);
	free(p);
}

/* Starts p->nthreads threads; on failure none is left running. */
static int
start_threads(struct kg_pool *p, struct kg_err *err)
{
	p->stopping = 0;
	for (int i = 0; i < p->nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, thread_main, p)) {
			stop_threads(p, i);
			return kg_err_set(err, 500, "internal",
					  "cannot start the DB threads");
		}
	}
	p->running = 1;
	return 0;
}

struct kg_pool *
kg_pool_new(int nthreads, kg_pool_fn init, struct kg_err *err)
{
	struct kg_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return kg_err_set(err, 500, "internal", "out of memory"), NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->nthreads = nthreads > 0 ? nthreads : 1;
	p->init = init;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->threads = calloc((size_t)p->nthreads, sizeof(*p->threads));
	if (p->efd < 0 || !p->threads) {
		kg_err_set(err, 500, "internal", "cannot start the DB threads");
		goto fail;
	}
	if (start_threads(p, err) < 0)
		goto fail;
	return p;
fail:
	pool_destroy(p);
	return NULL;
}

int
kg_pool_restart(struct kg_pool *p, struct kg_err *err)
{
	kg_pool_drain(p);
	stop_threads(p, p->nthreads);
	return start_threads(p, err);
}

void
kg_pool_free(struct kg_pool *p)
{
	if (!p)
		return;
	kg_pool_drain(p);
	stop_threads(p, p->nthreads);
	pool_destroy(p);
}

int
kg_pool_fd(const struct kg_pool *p)
{
	return p->efd;
}

int
kg_pool_run(struct kg_pool *p, kg_pool_fn work, kg_pool_fn done, void *arg,
	    struct kg_err *err)
{
	struct pool_item *it = malloc(sizeof(*it));

	if (!it)
		return kg_err_set(err, 500, "internal", "out of memory");
	it->work = work;
	it->done = done;
	it->arg = arg;
	p->busy++;
	if (!p->running) {	/* the threads could not be restarted */
		work(arg);
		pthread_mutex_lock(&p->mu);
		list_push(&p->finished, it);
		pthread_mutex_unlock(&p->mu);
		signal_loop(p);
		return 0;
	}
	pthread_mutex_lock(&p->mu);
	list_push(&p->todo, it);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int
kg_pool_collect(struct kg_pool *p)
{
	struct pool_item *it, *next;
	uint64_t n;
	int ran = 0;

	/* Reset the eventfd before taking the list: a piece finishing in
	 * between signals it again, so nothing waits unnoticed. */
	while (read(p->efd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&p->mu);
	it = list_take_all(&p->finished);
	pthread_mutex_unlock(&p->mu);
	for (; it; it = next) {
		next = it->next;
		p->busy--;
		if (it->done)
			it->done(it->arg);
		free(it);
		ran++;
	}
	return ran;
}

int
kg_pool_busy(const struct kg_pool *p)
{
	return p->busy;
}

void
kg_pool_drain(struct kg_pool *p)
{
	while (p->busy > 0) {
		struct pollfd pfd = {.fd = p->efd, .events = POLLIN};

		if (!kg_pool_collect(p))
			poll(&pfd, 1, 100);
	}
}
