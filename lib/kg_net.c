#include "kg_net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An address as 16 bytes; IPv4 (also written ::ffff:a.b.c.d) as the
 * IPv4-mapped IPv6 form, so one comparison serves both families. */
struct addr {
	unsigned char b[16];
	int v4;
};

static int
parse_addr(const char *s, struct addr *a)
{
	unsigned char v4[4];
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
						 0xff, 0xff};

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, v4) == 1) {
		memcpy(a->b, mapped, 12);
		memcpy(a->b + 12, v4, 4);
		a->v4 = 1;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->b) != 1)
		return -1;
	a->v4 = !memcmp(a->b, mapped, 12);
	return 0;
}

/* "a.b.c.d/n", "x::y/n" or a bare address into net + prefix bits (of
 * the 128-bit form). */
static int
parse_cidr(const char *s, size_t len, struct addr *net, int *bits)
{
	char buf[KG_NET_ADDR_MAX + 8];
	char *slash, *end;
	long n;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (parse_addr(buf, net) < 0)
		return -1;
	*bits = 128;
	if (!slash)
		return 0;
	n = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || *end || n < 0 || n > (net->v4 ? 32 : 128))
		return -1;
	*bits = (int)n + (net->v4 ? 96 : 0);
	return 0;
}

static int
in_net(const struct addr *a, const struct addr *net, int bits)
{
	int full = bits / 8, rest = bits % 8;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));

	if (memcmp(a->b, net->b, (size_t)full) != 0)
		return 0;
	return rest == 0 || (a->b[full] & mask) == (net->b[full] & mask);
}

/* Calls fn for each entry of a list separated by commas/blanks; stops
 * and returns what fn returns when it is nonzero. */
static int
each_entry(const char *list, int (*fn)(const char *s, size_t n, void *arg),
	   void *arg)
{
	const char *p = list ? list : "";

	for (;;) {
		size_t n;
		int rc;

		p += strspn(p, ", \t");
		if (!*p)
			return 0;
		n = strcspn(p, ", \t");
		rc = fn(p, n, arg);
		if (rc)
			return rc;
		p += n;
	}
}

static int
match_entry(const char *s, size_t n, void *arg)
{
	struct addr net;
	int bits;

	return parse_cidr(s, n, &net, &bits) == 0 &&
	       in_net(arg, &net, bits);
}

int
kg_net_in_list(const char *addr, const char *list)
{
	struct addr a;

	if (!addr || parse_addr(addr, &a) < 0)
		return 0;
	return each_entry(list, match_entry, &a) == 1;
}

struct bad_entry {
	char *bad;
	size_t len;
};

static int
check_entry(const char *s, size_t n, void *arg)
{
	struct bad_entry *b = arg;
	struct addr net;
	int bits;

	if (parse_cidr(s, n, &net, &bits) == 0)
		return 0;
	snprintf(b->bad, b->len, "%.*s", (int)n, s);
	return -1;
}

int
kg_net_check_list(const char *list, char *bad, size_t badlen)
{
	struct bad_entry b = {bad, badlen};

	return each_entry(list, check_entry, &b) ? -1 : 0;
}

/* Canonical text of a valid address (IPv4-mapped shown as IPv4). */
static void
canonical(const struct addr *a, char out[KG_NET_ADDR_MAX])
{
	if (a->v4)
		inet_ntop(AF_INET, a->b + 12, out, KG_NET_ADDR_MAX);
	else
		inet_ntop(AF_INET6, a->b, out, KG_NET_ADDR_MAX);
}

/* Entry `i` counted from the right of X-Forwarded-For, trimmed, into
 * buf; -1 when there is none. */
static int
xff_from_right(const char *xff, int i, char *buf, size_t size)
{
	const char *end = xff + strlen(xff);

	for (;;) {
		const char *start = end;
		const char *a, *b;

		while (start > xff && start[-1] != ',')
			start--;
		a = start;
		b = end;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (i-- == 0) {
			if ((size_t)(b - a) >= size)
				return -1;
			memcpy(buf, a, (size_t)(b - a));
			buf[b - a] = '\0';
			return 0;
		}
		if (start == xff)
			return -1;
		end = start - 1;
	}
}

void
kg_net_client_addr(const char *remote, const char *xff, const char *trusted,
		   char out[KG_NET_ADDR_MAX])
{
	struct addr a;
	char entry[KG_NET_ADDR_MAX];

	if (!remote || parse_addr(remote, &a) < 0) {
		/* no peer address (or a unix socket path): nothing to trust */
		snprintf(out, KG_NET_ADDR_MAX, "%s", remote ? remote : "-");
		return;
	}
	canonical(&a, out);
	if (!xff || !kg_net_in_list(out, trusted))
		return;
	/* Each trusted hop vouches for the entry it appended. */
	for (int i = 0; xff_from_right(xff, i, entry, sizeof(entry)) == 0;
	     i++) {
		struct addr e;

		if (parse_addr(entry, &e) < 0)
			return;		/* garbage: trust nothing further */
		canonical(&e, out);
		if (!kg_net_in_list(out, trusted))
			return;
	}
}
