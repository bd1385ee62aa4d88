/* Unit tests of the DB-thread pool (kg_pool) and of the loop's fd watch
 * that brings its results back (kg_loop_watch): every piece runs once on
 * another thread, its done once on the caller's, in the loop's turn that
 * the eventfd wakes; drain waits for pieces that dones start; a restart
 * keeps the pool working. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "kg_loop.h"
#include "kg_pool.h"

#define N 200

struct piece {
	struct kg_pool *pool;
	pthread_t caller, ran_on;
	int worked, done;
	int again;		/* done starts one more piece */
};

static struct piece pieces[N + 1];

static void
work(void *arg)
{
	struct piece *p = arg;

	p->ran_on = pthread_self();
	p->worked++;
	usleep(100);
}

static void
done(void *arg)
{
	struct piece *p = arg;

	assert_int_equal(p->worked, 1);
	assert_true(pthread_equal(pthread_self(), p->caller));
	p->done++;
	if (p->again) {
		pieces[N] = (struct piece){.pool = p->pool, .caller = p->caller};
		assert_int_equal(kg_pool_run(p->pool, work, done, &pieces[N],
					     NULL), 0);
	}
}

static void
test_every_piece_once(void **state)
{
	struct kg_pool *pool = kg_pool_new(3, NULL, NULL);

	(void)state;
	assert_non_null(pool);
	for (int i = 0; i < N; i++) {
		pieces[i] = (struct piece){.pool = pool, .caller = pthread_self(),
					   .again = i == N - 1};
		assert_int_equal(kg_pool_run(pool, work, done, &pieces[i], NULL),
				 0);
	}
	kg_pool_drain(pool);
	assert_int_equal(kg_pool_busy(pool), 0);
	for (int i = 0; i <= N; i++) {
		assert_int_equal(pieces[i].worked, 1);
		assert_int_equal(pieces[i].done, 1);
		assert_false(pthread_equal(pieces[i].ran_on, pthread_self()));
	}
	kg_pool_free(pool);
}

static void
collect(void *arg)
{
	kg_pool_collect(arg);
}

/* A loop waiting with no timer wakes for the piece, not its timeout. */
static void
test_loop_wakes_for_the_pool(void **state)
{
	struct kg_loop *loop = kg_loop_new(NULL);
	struct kg_pool *pool = kg_pool_new(1, NULL, NULL);
	int64_t t0;

	(void)state;
	assert_non_null(loop);
	assert_non_null(pool);
	assert_int_equal(kg_loop_watch(loop, kg_pool_fd(pool), collect, pool,
				       NULL), 0);
	pieces[0] = (struct piece){.pool = pool, .caller = pthread_self()};
	assert_int_equal(kg_pool_run(pool, work, done, &pieces[0], NULL), 0);
	t0 = kg_loop_now_ms();
	while (!pieces[0].done && kg_loop_now_ms() - t0 < 5000)
		kg_loop_run_once(loop, 5000);
	assert_int_equal(pieces[0].done, 1);
	assert_true(kg_loop_now_ms() - t0 < 2000);
	kg_loop_unwatch(loop, kg_pool_fd(pool));
	kg_pool_free(pool);
	kg_loop_free(loop);
}

static void
test_restart(void **state)
{
	struct kg_pool *pool = kg_pool_new(2, NULL, NULL);

	(void)state;
	assert_non_null(pool);
	pieces[0] = (struct piece){.pool = pool, .caller = pthread_self()};
	assert_int_equal(kg_pool_run(pool, work, done, &pieces[0], NULL), 0);
	assert_int_equal(kg_pool_restart(pool, NULL), 0);
	assert_int_equal(pieces[0].done, 1);	/* drained first */
	pieces[1] = (struct piece){.pool = pool, .caller = pthread_self()};
	assert_int_equal(kg_pool_run(pool, work, done, &pieces[1], NULL), 0);
	kg_pool_drain(pool);
	assert_int_equal(pieces[1].done, 1);
	kg_pool_free(pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_piece_once),
		cmocka_unit_test(test_loop_wakes_for_the_pool),
		cmocka_unit_test(test_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
