#include "kg_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_program[32] = "kartograf";
static _Thread_local char log_request_id[72];
static enum kg_log_level log_level = KG_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
kg_log_init(const char *program)
{
	const char *slash = strrchr(program, '/');

	snprintf(log_program, sizeof(log_program), "%s",
		 slash ? slash + 1 : program);
}

void
kg_log_set_level(enum kg_log_level level)
{
	log_level = level;
}

int
kg_log_parse_level(const char *s, enum kg_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum kg_log_level)i;
			return 0;
		}
	}
	return -1;
}

void
kg_log_set_request_id(const char *id)
{
	snprintf(log_request_id, sizeof(log_request_id), "%s", id ? id : "");
}

const char *
kg_log_request_id(void)
{
	return log_request_id;
}

/*
 * The whole line is formatted into one buffer and written with a single
 * write(2): several processes share one error log, and stdio buffering
 * would interleave their lines.  Newlines inside the message are replaced
 * so one event stays one line (log injection through user input).
 */
/*
 * The pid and the line's date up to the second, kept between lines (a
 * request program logs a line per request: getpid() is a system call
 * and strftime() a locale-aware formatter, ~1 % of a card request's CPU
 * each).  Per thread; the pid is forgotten in a forked child.
 */
static _Thread_local time_t stamp_sec = -1;
static _Thread_local char stamp[32];
static _Atomic int log_pid;	/* threads of the relay share it */
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void
pid_forget(void)
{
	log_pid = 0;
}

static void
pid_register(void)
{
	pthread_atfork(NULL, NULL, pid_forget);
}

void
kg_log(enum kg_log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	size_t n, head;

	if (level < log_level)
		return;
	pthread_once(&pid_once, pid_register);
	if (!log_pid)
		log_pid = (int)getpid();
	gettimeofday(&tv, NULL);
	if (tv.tv_sec != stamp_sec) {
		gmtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		stamp_sec = tv.tv_sec;
	}
	n = (size_t)snprintf(line, sizeof(line), "%s.%03dZ %s %s[%d] ", stamp,
			     (int)(tv.tv_usec / 1000), level_names[level],
			     log_program, log_pid);
	if (log_request_id[0])
		n += (size_t)snprintf(line + n, sizeof(line) - n, "req=%s ",
				      log_request_id);
	head = n;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	for (size_t i = head; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
