#include "kg_cgi.h"
#include "kg_buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CGI_BUF 16384

extern char **environ;

struct cgi_stream {
	FCGX_Stream s;		/* first: libfcgi only sees this part */
	int fd;
	long long left;		/* body bytes still to read, -1: to EOF */
	unsigned char buf[CGI_BUF];
};

static void
fill(FCGX_Stream *stream)
{
	struct cgi_stream *c = (struct cgi_stream *)stream;
	size_t want = CGI_BUF;
	ssize_t n;

	if (c->left == 0) {
		stream->isClosed = 1;
		return;
	}
	if (c->left > 0 && (long long)want > c->left)
		want = (size_t)c->left;
	do
		n = read(c->fd, c->buf, want);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		stream->isClosed = 1;
		if (n < 0)
			stream->FCGI_errno = errno;
		stream->rdNext = stream->stop = c->buf;
		return;
	}
	if (c->left > 0)
		c->left -= n;
	stream->rdNext = stream->stopUnget = c->buf;
	stream->stop = c->buf + n;
}

static void
empty(FCGX_Stream *stream, int do_close)
{
	struct cgi_stream *c = (struct cgi_stream *)stream;
	size_t n = (size_t)(stream->wrNext - c->buf);

	(void)do_close;
	if (!stream->isClosed && kg_buf_write_all(c->fd, c->buf, n) < 0) {
		stream->isClosed = 1;
		stream->FCGI_errno = errno ? errno : EPIPE;
	}
	stream->wrNext = c->buf;
	stream->stop = c->buf + CGI_BUF;
}

static FCGX_Stream *
stream_new(int fd, int reader, long long left)
{
	struct cgi_stream *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->left = left;
	c->s.isReader = reader;
	c->s.fillBuffProc = fill;
	c->s.emptyBuffProc = empty;
	c->s.rdNext = c->s.wrNext = c->s.stopUnget = c->buf;
	c->s.stop = reader ? c->buf : c->buf + CGI_BUF;
	return &c->s;
}

int
kg_cgi_detected(void)
{
	return getenv("GATEWAY_INTERFACE") || getenv("REQUEST_METHOD");
}

int
kg_cgi_begin(FCGX_Request *r, long long body_len)
{
	memset(r, 0, sizeof(*r));
	r->ipcFd = STDOUT_FILENO;
	r->listen_sock = -1;
	r->envp = environ;
	r->in = stream_new(STDIN_FILENO, 1, body_len);
	r->out = stream_new(STDOUT_FILENO, 0, 0);
	r->err = stream_new(STDERR_FILENO, 0, 0);
	if (!r->in || !r->out || !r->err) {
		kg_cgi_finish(r);
		return -1;
	}
	return 0;
}

int
kg_cgi_finish(FCGX_Request *r)
{
	int rc = 0;

	if (r->out && FCGX_FFlush(r->out) < 0)
		rc = -1;
	if (r->err)
		FCGX_FFlush(r->err);
	free(r->in);
	free(r->out);
	free(r->err);
	r->in = r->out = r->err = NULL;
	return rc;
}
