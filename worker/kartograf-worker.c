/*
 * kartograf-worker - the background daemon that generates and exports
 * project cards (run as a systemd service, see kartograf-worker.service).
 *
 * This is the daemon's frame: configuration, connections with
 * reconnect, signals.  SIGTERM/SIGINT stop it (exit 0), SIGHUP reloads
 * the configuration (a broken file is reported and the old one kept).
 * Work processing plugs into the tick below.
 */
#include "kg_config.h"
#include "kg_db.h"
#include "kg_log.h"
#include "kg_redis.h"

#include <signal.h>
#include <string.h>
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
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void
reload(void)
{
	struct kg_err err = {0};

	reload_requested = 0;
	if (kg_config_load(NULL, &err) < 0) {
		KG_ERROR("reload failed, keeping old configuration: %s",
			 err.message);
		return;
	}
	/* Connection settings may have changed. */
	kg_db_close();
	kg_redis_close();
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

int
main(void)
{
	struct kg_err err = {0};
	int db_up = -1, redis_up = -1;
	time_t last_check = 0;

	kg_log_init("kartograf-worker");
	if (kg_config_load(NULL, &err) < 0) {
		KG_ERROR("cannot start: %s", err.message);
		return 1;
	}
	install_signals();
	KG_INFO("started (config %s, concurrency %lld)", kg_config_path(),
		kg_conf_int("worker", "concurrency"));
	while (!stop_requested) {
		if (reload_requested)
			reload();
		if (time(NULL) - last_check >= 5) {
			check_connections(&db_up, &redis_up);
			last_check = time(NULL);
		}
		usleep(200 * 1000);
	}
	KG_INFO("stopping");
	kg_db_close();
	kg_redis_close();
	kg_config_free();
	return 0;
}
