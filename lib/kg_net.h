/*
 * kg_net - client addresses behind reverse proxies.
 *
 * Behind a load balancer or a TLS terminator every request arrives from
 * the proxy's address; the client's address is in X-Forwarded-For, which
 * anybody can also send.  So the header is believed only when the direct
 * peer is one of [http] trusted_proxies (a list of CIDRs such as
 * "10.0.0.0/8, 192.0.2.7, ::1"), and then read from the right: each
 * proxy appends the address it saw, so the right-most entry that is not
 * itself a trusted proxy is the client (what Apache mod_remoteip and
 * lighttpd mod_extforward do with the same list).  Entries to the left
 * of it were written by the client and are ignored.
 */
#ifndef KG_NET_H
#define KG_NET_H

#include <stddef.h>

#define KG_NET_ADDR_MAX 64

/* 1 if `addr` (IPv4 or IPv6 text) is in one of the CIDRs of `list`
 * (separated by commas and/or blanks; a bare address is /32 or /128). */
int kg_net_in_list(const char *addr, const char *list);

/* 0 if every entry of `list` is a valid address or CIDR; else -1 and
 * the first bad entry in `bad`. */
int kg_net_check_list(const char *list, char *bad, size_t badlen);

/* The client's address (see above) into `out`, in canonical text;
 * "-" when `remote` is NULL. */
void kg_net_client_addr(const char *remote, const char *xff,
			const char *trusted, char out[KG_NET_ADDR_MAX]);

#endif
