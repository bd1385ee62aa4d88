#include "kg_log.h"

#include <stdarg.h>
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
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03dZ %s %s[%d] ",
			      (int)(tv.tv_usec / 1000), level_names[level],
			      log_program, (int)getpid());
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
