/*
 * sse_load - load client for the SSE relay (tests/bench/bench_events.sh).
 *
 *   sse_load PORT BATCH_ID TOKEN CLIENTS EVENTS INTERVAL_MS [PID,PID...]
 *
 * Opens CLIENTS event streams of BATCH_ID through the web server on
 * 127.0.0.1:PORT, waits until every one has its snapshot, then publishes
 * EVENTS events exactly as the worker does (kg_event_next_seq +
 * kg_event_publish, configuration from KARTOGRAF_CONFIG), one every
 * INTERVAL_MS, and measures for every client and event the time from
 * just before the publish to the moment the event's "id:" line arrives.
 * One epoll loop, HTTP/1.0 (no chunking to undo).  A client "held" when
 * it received every event, in order, with no error.  The relay's RSS is
 * read from /proc for the given pids at the end, while the streams are
 * still open.
 */
#include "kg_clock.h"
#include "kg_config.h"
#include "kg_event.h"
#include "kg_db.h"
#include "kg_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
	int fd;
	int snapshot;		/* snapshot received */
	long long next;		/* next seq expected, 0 before the snapshot */
	int got;		/* events received in order */
	int bad;		/* error: closed, out of order, HTTP status */
	char tail[64];		/* unparsed end of the previous read */
	size_t tlen;
};

static double
now_ms(void)
{
	return (double)kg_clock_us() / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
open_client(int port, const char *batch, const char *token)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char req[8192];
	int fd = socket(AF_INET, SOCK_STREAM, 0), n;

	if (fd < 0)
		return -1;
	n = snprintf(req, sizeof(req),
		     "GET /api/events/%s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
		     "Accept: text/event-stream\r\n"
		     "Authorization: Bearer %s\r\n\r\n", batch, token);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Scan received bytes for "event: snapshot" and "id: N" lines.  The
 * last bytes are kept so a line split between two reads is still seen. */
static void
on_data(struct client *c, const char *data, size_t len, const double *t_pub,
	long long nevents, double *lat, size_t *nlat)
{
	char buf[65536 + 64];
	char *p, *end, *keep = NULL;

	memcpy(buf, c->tail, c->tlen);
	memcpy(buf + c->tlen, data, len);
	end = buf + c->tlen + len;
	*end = '\0';
	if (!c->snapshot && strstr(buf, "HTTP/1.") == buf &&
	    strncmp(buf + 9, "200", 3) != 0)
		c->bad = 1;
	for (p = buf; (p = strstr(p, "\nid: ")) != NULL; p++) {
		char *nl = strchr(p + 5, '\n');
		long long id;

		if (!nl || (!c->snapshot && end - nl < 16)) {
			keep = p;	/* incomplete: look again next time */
			break;
		}
		id = atoll(p + 5);
		if (!c->snapshot) {
			if (strncmp(nl, "\nevent: snapshot", 16) == 0) {
				c->snapshot = 1;
				c->next = id + 1;
			}
			continue;
		}
		if (id != c->next) {
			c->bad = 1;
			continue;
		}
		c->next++;
		c->got++;
		if (id >= 1 && id <= nevents && t_pub[id] > 0)
			lat[(*nlat)++] = now_ms() - t_pub[id];
	}
	/* Without an incomplete line keep only what could be the start of
	 * one ("\nid:"), never an id already counted. */
	if (!keep)
		keep = end - buf > 4 ? end - 4 : buf;
	c->tlen = (size_t)(end - keep) < sizeof(c->tail) - 1
			  ? (size_t)(end - keep) : sizeof(c->tail) - 1;
	memcpy(c->tail, end - c->tlen, c->tlen);
}

static void
pump(int ep, struct client *cl, double until, const double *t_pub,
     long long nevents, double *lat, size_t *nlat)
{
	struct epoll_event evs[256];
	char buf[65536];

	for (;;) {
		double left = until - now_ms();
		int n = epoll_wait(ep, evs, 256, left > 0 ? (int)left : 0);

		for (int i = 0; i < n; i++) {
			struct client *c = &cl[evs[i].data.u32];
			ssize_t r;

			while ((r = read(c->fd, buf, sizeof(buf))) > 0)
				on_data(c, buf, (size_t)r, t_pub, nevents,
					lat, nlat);
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				c->bad = 1;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			}
		}
		if (n <= 0 && now_ms() >= until)
			return;
	}
}

static long
rss_kb(const char *pids)
{
	char path[64], line[256];
	long total = 0;

	for (const char *p = pids; p && *p;) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%ld/status", atol(p));
		if ((f = fopen(path, "r")) != NULL) {
			while (fgets(line, sizeof(line), f))
				if (!strncmp(line, "VmRSS:", 6))
					total += atol(line + 6);
			fclose(f);
		}
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return total;
}

int
main(int argc, char **argv)
{
	struct kg_err err = {0};
	struct client *cl;
	double *t_pub, *lat, t0;
	size_t nlat = 0;
	int ep, port, nclients, connected = 0, held = 0, snap = 0;
	long long nevents, interval;
	const char *batch, *token;

	if (argc < 7) {
		fprintf(stderr, "usage: %s PORT BATCH TOKEN CLIENTS EVENTS "
			"INTERVAL_MS [PIDS]\n", argv[0]);
		return 2;
	}
	port = atoi(argv[1]);
	batch = argv[2];
	token = argv[3];
	nclients = atoi(argv[4]);
	nevents = atoll(argv[5]);
	interval = atoll(argv[6]);
	if (kg_config_load(NULL, &err) < 0) {
		fprintf(stderr, "config: %s\n", err.message);
		return 1;
	}
	cl = calloc((size_t)nclients, sizeof(*cl));
	t_pub = calloc((size_t)nevents + 1, sizeof(*t_pub));
	lat = calloc((size_t)nclients * (size_t)nevents + 1, sizeof(*lat));
	ep = epoll_create1(0);
	if (!cl || !t_pub || !lat || ep < 0)
		return 1;
	t0 = now_ms();
	for (int i = 0; i < nclients; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

		cl[i].fd = open_client(port, batch, token);
		if (cl[i].fd < 0) {
			cl[i].bad = 1;
			continue;
		}
		connected++;
		epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
		if (i % 100 == 99)	/* keep draining while connecting */
			pump(ep, cl, now_ms(), t_pub, nevents, lat, &nlat);
	}
	for (double until = now_ms() + 60000; now_ms() < until;) {
		pump(ep, cl, now_ms() + 200, t_pub, nevents, lat, &nlat);
		snap = 0;
		for (int i = 0; i < nclients; i++)
			snap += cl[i].snapshot && !cl[i].bad;
		if (snap == connected)
			break;
	}
	printf("  connected %d/%d, snapshots %d, in %.0f ms\n", connected,
	       nclients, snap, now_ms() - t0);
	for (long long i = 0; i < nevents; i++) {
		struct kg_event e = {"project.progress", batch, NULL,
				     "GENERATING", (int)(i % 100), -1, NULL};
		long long seq = kg_event_next_seq(batch, &err);

		if (seq < 1 || seq > nevents) {
			fprintf(stderr, "seq %lld: %s (use a fresh batch)\n",
				seq, err.message);
			return 1;
		}
		t_pub[seq] = now_ms();
		if (kg_event_publish(&e, seq, &err) < 0) {
			fprintf(stderr, "publish: %s\n", err.message);
			return 1;
		}
		pump(ep, cl, now_ms() + (double)interval, t_pub, nevents, lat,
		     &nlat);
	}
	for (double until = now_ms() + 10000; now_ms() < until;) {
		int done = 0;

		pump(ep, cl, now_ms() + 100, t_pub, nevents, lat, &nlat);
		for (int i = 0; i < nclients; i++)
			done += cl[i].bad || cl[i].got == nevents;
		if (done == nclients)
			break;
	}
	for (int i = 0; i < nclients; i++)
		held += !cl[i].bad && cl[i].snapshot && cl[i].got == nevents;
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("  events %lld x clients %d: %zu receipts\n", nevents,
	       nclients, nlat);
	if (nlat)
		printf("  latency publish->receipt: p50 %.2f ms, p99 %.2f ms, "
		       "max %.2f ms\n", lat[nlat / 2],
		       lat[(size_t)((double)nlat * 0.99)], lat[nlat - 1]);
	if (argc > 7)
		printf("  relay RSS (all events processes): %.1f MiB\n",
		       (double)rss_kb(argv[7]) / 1024.0);
	printf("  subscribers held with no errors: %d of %d\n", held,
	       nclients);
	for (int i = 0; i < nclients; i++)
		if (cl[i].fd >= 0)
			close(cl[i].fd);
	close(ep);
	free(cl);
	free(t_pub);
	free(lat);
	kg_db_close();
	kg_redis_close();
	kg_config_free();
	return held == nclients ? 0 : 1;
}
