/*
 * kg_log - one line per event on stderr.
 *
 * stderr is where every host we run under collects output: lighttpd and
 * Apache copy a FastCGI program's stderr into their error log, spawn-fcgi
 * and systemd hand it to journald.  So we never open log files ourselves.
 *
 * Line format (stable, grep-friendly):
 *   2026-11-29T02:50:00.123Z info health[4242] req=5f2c... message
 *
 * The request id is set by the HTTP layer for the duration of a request
 * (and by the worker per task) so every line of one request carries it.
 * Secrets must never reach this module: config values marked secret are
 * not printable through kg_config, and callers log ids, not tokens.
 */
#ifndef KG_LOG_H
#define KG_LOG_H

enum kg_log_level { KG_LOG_DEBUG, KG_LOG_INFO, KG_LOG_WARN, KG_LOG_ERROR };

void kg_log_init(const char *program);
void kg_log_set_level(enum kg_log_level level);
/* Parses "debug|info|warn|error"; returns -1 for anything else. */
int kg_log_parse_level(const char *s, enum kg_log_level *out);
/* The id printed on every following line; NULL or "" clears it. */
void kg_log_set_request_id(const char *id);
const char *kg_log_request_id(void);

void kg_log(enum kg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define KG_DEBUG(...) kg_log(KG_LOG_DEBUG, __VA_ARGS__)
#define KG_INFO(...) kg_log(KG_LOG_INFO, __VA_ARGS__)
#define KG_WARN(...) kg_log(KG_LOG_WARN, __VA_ARGS__)
#define KG_ERROR(...) kg_log(KG_LOG_ERROR, __VA_ARGS__)

#endif
