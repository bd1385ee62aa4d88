/*
 * kartograf-worker - the background daemon that generates (and, in
 * wk_export.c, exports) project cards; run as a systemd service, see
 * kartograf-worker.service.  Any number of workers on any number of
 * hosts share one PostgreSQL and one Redis.
 *
 * One thread, one event loop (kg_loop: libcurl multi + timers): each
 * turn it keeps the queues healthy (heartbeat, lease renewal, reaper,
 * reconciler: wk_house.c), takes tasks of every queue while it is below
 * [worker] global_limit (wk_task.c; generation claims the project if
 * its batch is below [worker] concurrency), and drives every running
 * provider call.  The queue design is described in lib/kg_queue.h, the
 * queues in wk.h (struct wk_queue), the generation job in wk_gen.c.
 *
 * Signals: SIGTERM/SIGINT stop taking work; running jobs get [worker]
 * shutdown_grace seconds to finish, the rest go back to QUEUED and to
 * the queue for another worker; exit 0.  SIGHUP reloads the
 * configuration (a broken file is reported and the old one kept) and
 * the data (section definitions, prompts, templates).  kill -9 loses
 * nothing: the heartbeat and leases expire, the reaper and the
 * reconciler hand the work to the other workers.
 *
 * --cron (shared hosting, where crontab is the only process manager):
 * started every minute, it runs only if it gets the lock file
 * (<config>.worker-lock, flock) and the Redis registry shows no live
 * worker of this host; otherwise it exits 0 at once.  It works as long
 * as there is work and stops itself - the SIGTERM path above, so nothing
 * stays leased - after [worker] idle_exit seconds without any.  SIGXCPU
 * (a host's CPU-time limit) stops it the same way.
 */
#include "kg_config.h"
#include "kg_db.h"
#include "kg_failover.h"
#include "kg_log.h"
#include "kg_queue.h"
#include "kg_redis.h"
#include "wk.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested, reload_requested;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

static void
install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGXCPU, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void
reload(struct wk *w)
{
	struct kg_err err = {0};

	reload_requested = 0;
	if (kg_config_load(NULL, &err) < 0 ||
	    kg_failover_check_config(&err) < 0) {
		KG_ERROR("reload failed, keeping old configuration: %s",
			 err.message);
		return;
	}
	/* Connection settings may have changed. */
	kg_db_close();
	kg_redis_close();
	/* Jobs keep pointers into the data: reload it once idle. */
	if (!w->njobs && w->data_loaded) {
		wk_data_free(&w->data);
		w->data_loaded = 0;
	}
	KG_INFO("configuration reloaded");
}

/*
 * Checks both connections; logs only on a change of state so an outage
 * gives two lines (down, back), not one per second.
 */
static void
check_connections(int *db_up, int *redis_up)
{
	struct kg_err err = {0};
	redisReply *r;
	int up;

	up = kg_db_exec(&err, "SELECT 1", 0, NULL) == 0;
	if (up != *db_up)
		KG_INFO("database %s", up ? "connected" : "unavailable");
	*db_up = up;
	r = kg_redis_cmd(&err, "PING");
	up = r && r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (up != *redis_up)
		KG_INFO("redis %s", up ? "connected" : "unavailable");
	*redis_up = up;
}

static void
make_id(struct wk *w)
{
	unsigned char rnd[4] = {0};
	char host[64] = "host";

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	RAND_bytes(rnd, sizeof(rnd));
	snprintf(w->id, sizeof(w->id), "%.60s:%d:%02x%02x%02x%02x", host,
		 (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
	srand((unsigned)rnd[0] << 24 | (unsigned)rnd[1] << 16 |
	      (unsigned)rnd[2] << 8 | rnd[3]);
}

static void
load_data(struct wk *w, int64_t *next_try)
{
	struct kg_err err = {0};

	if (w->data_loaded || kg_loop_now_ms() < *next_try)
		return;
	if (wk_data_load(&w->data, &err) < 0) {
		KG_WARN("generation data not loaded (retrying): %s",
			err.message);
		*next_try = kg_loop_now_ms() + 2000;
		return;
	}
	w->data_loaded = 1;
	wk_claim_warm();
	wk_gen_warm();
	KG_INFO("generation data loaded: %zu sections, %zu offline "
		"templates", w->data.ndefs, w->data.ntpls);
}

/*
 * --cron: 1 when this run may go on, 0 when another worker already
 * serves this host (exit quietly), -1 on error.  The lock is held (fd
 * left open) until the process ends.
 */
static int
cron_claim(const struct wk *w)
{
	char lock[4200], prefix[72];
	size_t hostlen = strcspn(w->id, ":");
	struct kg_err err = {0};
	long long alive;
	int fd;

	snprintf(lock, sizeof(lock), "%s.worker-lock", kg_config_path());
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		KG_ERROR("cannot open the lock file %s: %s", lock,
			 strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		if (errno != EWOULDBLOCK) {
			KG_ERROR("cannot lock %s: %s", lock, strerror(errno));
			return -1;
		}
		KG_DEBUG("another worker holds %s", lock);
		return 0;
	}
	snprintf(prefix, sizeof(prefix), "%.*s:", (int)hostlen, w->id);
	alive = kg_queue_workers_alive(prefix, &err);
	if (alive < 0)
		KG_WARN("worker registry not readable (%s); the lock decides",
			err.message);
	if (alive > 0) {
		KG_INFO("a worker of this host is alive in the registry");
		return 0;
	}
	return 1;
}

/* --cron: stop (the SIGTERM way) after idle_exit seconds without work. */
static void
cron_idle(const struct wk *w, int worked, int64_t *busy_at)
{
	int64_t now = kg_loop_now_ms();

	if (w->jobs || worked || !*busy_at)	/* exports too */
		*busy_at = now;
	else if (!w->stopping &&
		 now - *busy_at >=
			 kg_config_int("worker", "idle_exit") * 1000) {
		KG_INFO("idle for %lld s, exiting (--cron)",
			kg_config_int("worker", "idle_exit"));
		stop_requested = 1;
	}
}

static int
usage(const char *arg)
{
	fprintf(stderr, "kartograf-worker: unknown argument %s\n"
		"usage: kartograf-worker [--cron]\n", arg);
	return 2;
}

/* Slot-time for /metrics: how much of global_limit was in use. */
static void
count_slots(struct wk *w, int64_t now)
{
	if (w->slot_clock) {
		int64_t dt = now - w->slot_clock;

		w->slot_ms_used += dt * w->njobs;
		w->slot_ms_offered +=
			dt * kg_config_int("worker", "global_limit");
	}
	w->slot_clock = now;
}

int
main(int argc, char **argv)
{
	struct kg_err err = {0};
	struct wk w = {.stop = &stop_requested};
	int db_up = -1, redis_up = -1, cron = 0, claim;
	int64_t last_check = 0, next_data = 0, deadline = 0, busy_at = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cron"))
			return usage(argv[i]);
		cron = 1;
	}
	kg_log_init("kartograf-worker");
	if (kg_config_load(NULL, &err) < 0 ||
	    kg_failover_check_config(&err) < 0) {
		KG_ERROR("cannot start: %s", err.message);
		return 1;
	}
	install_signals();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	w.loop = kg_loop_new(&err);
	if (!w.loop) {
		KG_ERROR("cannot start: %s", err.message);
		return 1;
	}
	make_id(&w);
	if (cron && (claim = cron_claim(&w)) <= 0) {
		kg_loop_free(w.loop);
		curl_global_cleanup();
		kg_redis_close();
		kg_config_free();
		return claim < 0 ? 1 : 0;
	}
	KG_INFO("started as %s%s (config %s, provider %s, concurrency %lld, "
		"global limit %lld)", w.id, cron ? " (--cron)" : "",
		kg_config_path(),
		kg_config_str("ai", "provider"),
		kg_config_int("worker", "concurrency"),
		kg_config_int("worker", "global_limit"));
	for (;;) {
		int64_t now = kg_loop_now_ms();
		int more, taken;

		if (stop_requested && !w.stopping) {
			w.stopping = 1;
			deadline = now +
				   kg_config_int("worker", "shutdown_grace") *
					   1000;
			KG_INFO("stopping: %d job(s) running", w.njobs);
		}
		/* every job, exports (not counted in njobs) too */
		if (w.stopping && (!w.jobs || now >= deadline))
			break;
		if (reload_requested)
			reload(&w);
		if (now - last_check >= 5000) {
			check_connections(&db_up, &redis_up);
			last_check = now;
		}
		load_data(&w, &next_data);
		count_slots(&w, now);
		wk_house(&w);
		wk_steps_begin(&w);
		wk_gen_tick(&w);
		wk_steps_flush(&w);
		taken = wk_take(&w, &more);
		if (cron)
			cron_idle(&w, taken, &busy_at);
		/* the answers that came together: their steps in one go */
		wk_steps_begin(&w);
		kg_loop_run_once(w.loop, more ? 0 : w.njobs ? 100 : 50);
		wk_steps_flush(&w);
	}
	if (w.jobs) {
		KG_INFO("grace period over: handing the running job(s) back");
		wk_requeue_all(&w);
	}
	if (kg_queue_leave(KG_QUEUE_GENERATE, w.id, &err) < 0)
		KG_WARN("could not unregister: %s", err.message);
	KG_INFO("stopping");
	wk_house_free(&w);
	if (w.data_loaded)
		wk_data_free(&w.data);
	kg_loop_free(w.loop);
	curl_global_cleanup();
	kg_db_close();
	kg_redis_close();
	kg_config_free();
	return 0;
}
