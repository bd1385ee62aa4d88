/*
 * kg_cgi - one plain-CGI request dressed as a FastCGI request.
 *
 * Under plain CGI (RFC 3875) the web server starts the program once per
 * request: the parameters are the process environment, the body is
 * stdin (CONTENT_LENGTH bytes, or up to EOF when no length is given),
 * the answer goes to stdout, the program exits.  kg_cgi_begin() fills an
 * FCGX_Request with libfcgi streams over those descriptors, so that
 * kg_req and kg_resp (FCGX_GetStr, FCGX_PutStr, FCGX_FFlush,
 * FCGX_GetParam) and the endpoint code above it cannot tell the modes
 * apart.
 *
 * ipcFd is set to stdout: it becomes readable or errored (POLLERR on a
 * pipe whose reader is gone) only when the web server closes it, which
 * is what the event relay watches for a vanished client.
 */
#ifndef KG_CGI_H
#define KG_CGI_H

#include <fcgiapp.h>

/* Nonzero when the process looks started by a web server as CGI
 * (GATEWAY_INTERFACE or REQUEST_METHOD in the environment). */
int kg_cgi_detected(void);
/* body_len: the CONTENT_LENGTH the server declared, the most stdin will
 * yield (a CGI program must not read further); -1 when none was given
 * (read to EOF).  0, or -1 when out of memory. */
int kg_cgi_begin(FCGX_Request *r, long long body_len);
/* Flushes the answer and frees the streams; 0, or -1 if the answer
 * could not be written completely. */
int kg_cgi_finish(FCGX_Request *r);

#endif
