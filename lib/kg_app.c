/*
 * kg_app - the program around the handlers (kg_app.h): start, the
 * FastCGI accept loop (one request at a time, or request threads), one
 * plain-CGI request, and per request routing, authentication, the
 * declared body and version, the handler and the error answer.  The
 * OpenAPI output is kg_app_openapi.c.
 */
#include "kg_app.h"
#include "kg_auth.h"
#include "kg_body.h"
#include "kg_cgi.h"
#include "kg_clock.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_log.h"
#include "kg_net.h"
#include "kg_redis.h"
#include "kg_req.h"
#include "kg_resp.h"

#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;
static volatile sig_atomic_t app_stopping;
static int app_threaded;	/* request threads (struct kg_app.threads) */
static pthread_mutex_t app_mutex = PTHREAD_MUTEX_INITIALIZER;

void
kg_app_lock(void)
{
	pthread_mutex_lock(&app_mutex);
}

void
kg_app_unlock(void)
{
	pthread_mutex_unlock(&app_mutex);
}

int
kg_app_stopping(void)
{
	return app_stopping;
}

static void
on_stop_signal(int sig)
{
	(void)sig;
	app_stopping = 1;
	FCGX_ShutdownPending();
}

/*
 * No SA_RESTART: the signal must interrupt accept(2) so that, together
 * with FCGI_FAIL_ACCEPT_ON_INTR, FCGX_Accept_r returns and the loop
 * ends.  A request being served is finished first.
 */
static void
install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* ---- the loop -------------------------------------------------------- */

/* If-Match: "<n>" with n a positive int; 0 if absent, -1 if malformed. */
static int
if_match_version(struct kg_req *req, long long *out)
{
	const char *im = kg_req_env(req, "HTTP_IF_MATCH");
	char *end;

	*out = 0;
	if (!im)
		return 0;
	if (im[0] != '"' || im[1] < '1' || im[1] > '9')
		return -1;
	*out = strtoll(im + 1, &end, 10);
	return strcmp(end, "\"") || *out > INT_MAX ? -1 : 0;
}

static int
resolve_version(struct kg_req *req)
{
	long long body = kg_body_int(req->json, "version", 0), header;

	if (if_match_version(req, &header) < 0)
		return kg_req_fail(
			req, 400, "bad_request",
			"If-Match must be a version ETag such as \"3\"");
	if (body && header && body != header)
		return kg_req_fail(req, 400, "bad_request",
				   "version and If-Match disagree");
	if (!body && !header)
		return kg_req_fail(
			req, 428, "version_required",
			"send the version you edited, as \"version\" "
			"or If-Match");
	req->version = (int)(body ? body : header);
	return 0;
}

/* Between authentication and the handler: the declared body, then the
 * version (KG_ROUTE_VERSION).  0, or -1 with req->err. */
static int
check_request(struct kg_req *req)
{
	const char *raw;
	size_t len;

	if (req->route->body) {
		raw = kg_req_body(req, &len);
		if (!raw)
			return -1;
		if (len == 0 && !req->json)
			req->json = cJSON_CreateObject();
		else if (!kg_req_json(req) ||
			 kg_body_check_raw(raw, len, &req->err) < 0)
			return -1;
		if (!req->json)
			return kg_req_fail(req, 500, "internal",
					   "out of memory");
		if (kg_body_check(req->route->body, req->json, &req->err) < 0)
			return -1;
	}
	if (req->route->flags & KG_ROUTE_VERSION)
		return resolve_version(req);
	return 0;
}

/* Authentication reads the user through the process's one database
 * connection, which request threads share. */
static int
authenticate(struct kg_req *req)
{
	int rc;

	if (app_threaded)
		kg_app_lock();
	rc = kg_auth_request(req, req->route->flags, &req->user,
			     &req->session, &req->err);
	req->auth_expires = req->session.expires;
	if (app_threaded)
		kg_app_unlock();
	return rc;
}

static void
dispatch(const struct kg_app *app, struct kg_req *req)
{
	struct kg_buf allow = {0};
	long long declared = kg_req_content_length(req);

	if (declared > kg_config_int("http", "max_body")) {
		kg_req_body(req, NULL);	/* fills the 413 */
		goto out;
	}
	req->route = kg_route_find(req, app->routes, &allow);
	if (!req->route && allow.len) {
		kg_resp_header(req, "Allow", kg_buf_str(&allow));
		kg_req_fail(req, 405, "method_not_allowed",
			    "method %s not allowed here", req->method);
	} else if (!req->route) {
		kg_req_fail(req, 404, "not_found", "no such resource");
	} else if ((req->route->flags & KG_ROUTE_AUTH) &&
		   authenticate(req) < 0) {
		/* req->err holds the 401 */
	} else if (check_request(req) < 0) {
		/* req->err holds the 4xx of the body or version */
	} else if (req->route->handler(req) == 0 && !req->status) {
		kg_req_fail(req, 500, "internal", "handler sent no response");
	} else if (req->route->flags & KG_ROUTE_AUTH_INLINE) {
		kg_auth_challenge(req, &req->err);	/* its session ended */
	}
out:
	kg_buf_free(&allow);
	if (!req->status)
		kg_resp_error(req, &req->err);
}

static void
reset_request(struct kg_req *req)
{
	FCGX_Request keep = req->fcgi;

	memset(req, 0, sizeof(*req));
	req->fcgi = keep;
}

/* One request, start to finish, whatever brought it (FastCGI or CGI). */
static void
handle(const struct kg_app *app, struct kg_req *req)
{
	int64_t t0;

	reset_request(req);
	t0 = kg_clock_us();
	kg_req_begin(req);
	dispatch(app, req);
	kg_req_end(req, t0);
}

/*
 * One accepted FastCGI request.  libfcgi closes the connection with a
 * "lingering close" (shutdown, then wait up to 2 s until the web server
 * has closed its end), so that data still coming from the web server
 * cannot turn the close into a reset that loses the answer.  Once the
 * whole request, FCGI_STDIN up to its end, has been read (kg_req_end
 * drains what the handler left) nothing more is coming, and waiting for
 * the web server's close only keeps this process from its next request:
 * then the connection is closed at once (FCGX_Detach: close without the
 * shutdown).  A request whose input was not read to the end keeps the
 * lingering close.
 */
static void
serve(const struct kg_app *app, struct kg_req *req)
{
	handle(app, req);
	if (req->fcgi.in && FCGX_HasSeenEOF(req->fcgi.in) == EOF)
		FCGX_Detach(&req->fcgi);
	FCGX_Finish_r(&req->fcgi);
}

/* ---- request threads (struct kg_app.threads) ------------------------- */

#define THREAD_STACK ((size_t)1 << 20)

struct req_thread {
	pthread_t tid;
	const struct kg_app *app;
	atomic_int done;
};

static void
nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * The libfcgi threading model: every thread has its own FCGX_Request
 * and accepts on the shared listening socket.  An accept error that is
 * not a stop request (EMFILE under load, say) must not end the thread,
 * or the process would silently lose capacity: wait a little, retry.
 */
static void *
request_thread(void *arg)
{
	struct req_thread *t = arg;
	struct kg_req *req = calloc(1, sizeof(*req));

	if (req) {
		FCGX_InitRequest(&req->fcgi, 0, FCGI_FAIL_ACCEPT_ON_INTR);
		while (!app_stopping) {
			if (FCGX_Accept_r(&req->fcgi) < 0) {
				if (!app_stopping) {
					KG_WARN("accept failed, retrying");
					nap_ms(100);
				}
				continue;
			}
			serve(t->app, req);
		}
		FCGX_Free(&req->fcgi, 1);
		free(req);
	}
	atomic_store(&t->done, 1);
	return NULL;
}

/*
 * SIGTERM reaches one thread of the process; the others sit in
 * accept(2) or poll(2) and would never notice.  So once the flag is set
 * every thread still running gets the signal itself (its EINTR ends the
 * wait), again and again until it is gone: a thread that was between
 * checking the flag and entering accept() misses the first one.
 */
static void
run_threads(const struct kg_app *app, int n)
{
	struct req_thread *t = calloc((size_t)n, sizeof(*t));
	pthread_attr_t attr;
	int started = 0, alive;

	if (!t) {
		KG_ERROR("out of memory for %d threads", n);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	for (; started < n; started++) {
		t[started].app = app;
		if (pthread_create(&t[started].tid, &attr, request_thread,
				   &t[started]) != 0) {
			KG_ERROR("could only start %d of %d threads", started,
				 n);
			break;
		}
	}
	pthread_attr_destroy(&attr);
	KG_INFO("ready (config %s, %d threads)", kg_config_path(), started);
	while (!app_stopping && started > 0)
		nap_ms(100);
	do {
		alive = 0;
		for (int i = 0; i < started; i++) {
			if (atomic_load(&t[i].done))
				continue;
			alive++;
			pthread_kill(t[i].tid, SIGTERM);
		}
		if (alive)
			nap_ms(50);
	} while (alive);
	for (int i = 0; i < started; i++)
		pthread_join(t[i].tid, NULL);
	free(t);
}

/* A malformed CONTENT_LENGTH reads nothing: dispatch answers it 400. */
static long long
cgi_body_length(struct kg_req *req)
{
	long long n = kg_req_content_length(req);

	return n == -2 ? 0 : n;
}

/*
 * Plain CGI: one request from the environment and stdin, the answer on
 * stdout, then the process ends (kg_cgi).  A program that cannot start
 * (bad configuration, database down) still answers in JSON: the web
 * server would otherwise turn the empty output into its own HTML 500.
 * The reason goes to the log (the server's error log), not the client.
 */
static int
run_cgi(const struct kg_app *app, int started)
{
	struct kg_req req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.fcgi.envp = environ;
	if (kg_cgi_begin(&req.fcgi, cgi_body_length(&req)) < 0) {
		KG_ERROR("out of memory");
		return 1;
	}
	if (started) {
		app_threaded = app->threads != NULL;
		handle(app, &req);
	} else {
		int64_t t0 = kg_clock_us();

		kg_req_begin(&req);
		kg_req_fail(
			&req, 503, "unavailable",
			"the service cannot start, see the server's error log");
		kg_resp_error(&req, &req.err);
		kg_req_end(&req, t0);
	}
	rc = kg_cgi_finish(&req.fcgi);
	return started && rc == 0 ? 0 : 1;
}

static void
run_fastcgi(const struct kg_app *app)
{
	struct kg_req req;
	int threads = app->threads ? app->threads() : 0;

	if (threads > 0) {
		app_threaded = 1;
		run_threads(app, threads);
	} else {
		memset(&req, 0, sizeof(req));
		FCGX_InitRequest(&req.fcgi, 0, FCGI_FAIL_ACCEPT_ON_INTR);
		KG_INFO("ready (config %s)", kg_config_path());
		while (!app_stopping && FCGX_Accept_r(&req.fcgi) >= 0)
			serve(app, &req);
		FCGX_Free(&req.fcgi, 1);
	}
	KG_INFO("stopping");
}

int
kg_app_check_config(struct kg_err *err)
{
	char bad[80];

	if (kg_net_check_list(kg_config_str("http", "trusted_proxies"), bad,
			      sizeof(bad)) < 0)
		return kg_err_set(err, 500, "config_invalid",
				  "[http] trusted_proxies: \"%s\" is not an "
				  "address or CIDR", bad);
	return 0;
}

/*
 * A program answers the same kind of request over and over, so its
 * largest answer (a 1,000-project batch is 230 KB, a .docx more) comes
 * again.  glibc's defaults hand such blocks back to the kernel when they
 * are freed (mmap above 128 KB, heap trimmed above 128 KB free) and the
 * next request faults every page in again: measured, that was 60% of
 * the CPU of GET /api/batches/{id} (issue 15).  Keep them: the process
 * holds on to about its largest answer, nothing more.
 */
static void
tune_malloc(void)
{
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

static int
app_start(const struct kg_app *app, struct kg_err *err)
{
	tune_malloc();
	kg_log_init(app->name);
	if (kg_config_load(NULL, err) < 0 || kg_app_check_config(err) < 0)
		return -1;
	kg_route_check(app->routes);
	for (const struct kg_route *r = app->routes; r->method; r++)
		if ((r->flags & KG_ROUTE_AUTH) && kg_auth_check_config(err) < 0)
			return -1;
	if (app->init && app->init(err) < 0)
		return -1;
	return 0;
}

/*
 * The same binary runs in every mode libfcgi can tell apart: FastCGI on
 * the listening socket it was handed on fd 0 (spawn-fcgi, systemd,
 * lighttpd, mod_fcgid, which all start it that way), or plain CGI when
 * fd 0 is no socket and the environment holds a CGI request.  Started by
 * hand with neither, it refuses.
 */
int
kg_app_main(const struct kg_app *app, int argc, char **argv)
{
	struct kg_err err = {0};
	int cgi, started, rc = 0;

	if (argc == 2 && !strcmp(argv[1], "--openapi"))
		return kg_app_print_openapi(app);
	if (FCGX_Init() != 0) {
		kg_log_init(app->name);
		KG_ERROR("cannot initialise libfcgi");
		return 2;
	}
	cgi = FCGX_IsCGI();
	started = app_start(app, &err) == 0;
	if (!started)
		KG_ERROR("cannot start: %s", err.message);
	/* Started by hand: a bad configuration is reported first (exit 1),
	 * as a FastCGI program would. */
	if (cgi && !kg_cgi_detected()) {
		if (started)
			KG_ERROR("not started as a FastCGI or CGI program: run "
				 "it under spawn-fcgi, systemd socket "
				 "activation, the web server's FastCGI process "
				 "manager, or as a CGI script");
		rc = started ? 2 : 1;
		goto out;
	}
	install_signals();
	if (cgi)
		rc = run_cgi(app, started);
	else if (!started)
		rc = 1;
	else
		run_fastcgi(app);
out:
	if (started && app->fini)
		app->fini();
	kg_db_close();
	kg_redis_close();
	kg_config_free();
	return rc;
}
