/* The HTTP server: libmicrohttpd, routing, static files, access log. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "api.h"
#include "http.h"
#include "log.h"
#include "route.h"

#define API_PREFIX	"/api/v1/"

static const char csp[] = "default-src 'self'; script-src 'self';"
    " style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct http {
	struct MHD_Daemon	*mhd;
	struct api		*api;
	struct http_options	 o;		/* strings are the caller's */
	char			 root[PATH_MAX];	/* web root, resolved */
	char			 url[300];
	unsigned		 inflight;	/* requests begun, not ended */
};

/* The state of one request while its body arrives. */
#define MAX_PARTS	16
#define HTTP_STACK	(1024 * 1024)	/* bytes, of a connection's thread */
/*
 * A connection's memory, which holds what one read from its socket
 * takes.  Four times libmicrohttpd's 32 KiB reads a large batch in a
 * quarter of the system calls and callbacks (binary batches about 15%
 * faster), but libmicrohttpd clears all of it twice per request, which
 * every small request pays: 256 KiB took 8% more CPU per training
 * batch than 128 KiB.
 */
#define HTTP_CONN_MEMORY	(128 * 1024)

/* A part of a multipart/form-data body as it arrives. */
struct upload {
	char		 name[64];
	unsigned char	*data;
	size_t		 len, cap;
};

struct exchange {
	char		*body;
	size_t		 len, cap;
	int		 too_large;
	int		 unauthorized;	/* answered 401 once read */
	struct MHD_PostProcessor *form;	/* multipart/form-data, or NULL */
	size_t		 announced;	/* Content-Length, or 0 */
	size_t		 fed;		/* bytes given to form so far */
	size_t		 reserved;	/* bytes the parts allocated */
	const char	*boundary;	/* of the form, as libmicrohttpd */
	size_t		 blen;		/* reads it, and its length */
	char		*tail;		/* the form's last bytes */
	size_t		 taillen, tailcap;
	struct upload	 parts[MAX_PARTS];
	size_t		 nparts;
	const char	*bad_form;	/* what is wrong with the form */
	struct timespec	 start;
	char		*args[8];	/* decoded query arguments */
	size_t		 nargs;
	struct MHD_Connection *conn;
	struct http	*h;
};

/* libmicrohttpd would decode the URL before we split it into segments,
 * so "%2F" could not be told from "/": decoding is left to us. */
static size_t
http_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void	 http_mhd_log(void *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	 line[512];
	size_t	 n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	log_warn("http", "%s", line);
}

/* A query argument, percent-decoded once; kept until the request ends. */
static const char *
http_arg(void *cls, const char *key)
{
	struct exchange	*x = cls;
	const char	*raw;
	char		*dec;

	raw = MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND,
	    key);
	if (raw == NULL || x->nargs == sizeof(x->args) / sizeof(x->args[0]))
		return NULL;
	if ((dec = strdup(raw)) == NULL)
		return NULL;
	if (route_unescape(dec) < 0) {
		/* A malformed escape stays as sent; the name check fails. */
		strcpy(dec, raw);
	}
	x->args[x->nargs++] = dec;
	return dec;
}

static const char *
http_peer(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo	*ci;
	const struct sockaddr		*sa;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(buf, len, "-");
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return buf;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
		    (socklen_t)len);
	return buf;
}

/* Queues a response and writes the access-log line. */
static enum MHD_Result
http_send(struct MHD_Connection *c, struct exchange *x, const char *method,
    const char *url, unsigned status, struct MHD_Response *resp)
{
	struct timespec	 now;
	enum MHD_Result	 ret;
	char		 peer[64], esc[512], mesc[64];
	double		 ms;

	if (resp == NULL) {
		log_error("http", "out of memory making a response");
		return MHD_NO;
	}
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (x->h->o.cors_origin != NULL) {
		MHD_add_response_header(resp, "Access-Control-Allow-Origin",
		    x->h->o.cors_origin);
		MHD_add_response_header(resp, "Vary", "Origin");
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - x->start.tv_sec) * 1e3 +
	    (double)(now.tv_nsec - x->start.tv_nsec) / 1e6;
	log_info("http", "%s \"%s %s\" %u in=%zuB %.2fms",
	    http_peer(c, peer, sizeof(peer)),
	    log_escape(method, mesc, sizeof(mesc)),
	    log_escape(url, esc, sizeof(esc)), status, x->len + x->fed, ms);
	return ret;
}

/* The headers of every API reply: JSON, never cached. */
static struct MHD_Response *
http_json_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Content-Type",
	    "application/json; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	return r;
}

/* A JSON response that takes over body (freed by libmicrohttpd). */
static struct MHD_Response *
http_json(char *body)
{
	struct MHD_Response	*r;

	if (body == NULL)
		return NULL;
	r = MHD_create_response_from_buffer(strlen(body), body,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return NULL;
	}
	return http_json_headers(r);
}

/* A reply the API writes as it is sent (see struct api_reply). */
struct stream {
	long	(*fn)(void *, char *, size_t);
	void	*arg;
	void	(*free)(void *);
};

static ssize_t
http_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream	*s = cls;
	long		 n = s->fn(s->arg, buf, max);

	(void)pos;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)n;
}

static void
http_stream_free(void *cls)
{
	struct stream	*s = cls;

	s->free(s->arg);
	free(s);
}

/* A JSON response that calls the API's stream for its body, in chunks
 * of 64 KiB; it owns the stream from then on. */
static struct MHD_Response *
http_stream(const struct api_reply *rep)
{
	struct MHD_Response	*r;
	struct stream		*s;

	if ((s = malloc(sizeof(*s))) == NULL) {
		rep->stream_free(rep->stream_arg);
		return NULL;
	}
	s->fn = rep->stream;
	s->arg = rep->stream_arg;
	s->free = rep->stream_free;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536,
	    http_stream_read, s, http_stream_free);
	if (r == NULL) {
		http_stream_free(s);
		return NULL;
	}
	return http_json_headers(r);
}

static enum MHD_Result
http_error(struct MHD_Connection *c, struct exchange *x, const char *method,
    const char *url, int status, const char *code, const char *msg)
{
	struct api_reply	 rep;

	memset(&rep, 0, sizeof(rep));
	api_error(&rep, status, code, "%s", msg);
	return http_send(c, x, method, url, (unsigned)status,
	    http_json(rep.body));
}

/*
 * Reads the boundary of a form as libmicrohttpd does: all that follows
 * "boundary=", less enclosing quotes.  A boundary followed by another
 * parameter or a blank, which no boundary may hold, would never be
 * found in the body: it is refused with the reason.
 */
static void
http_form_boundary(struct exchange *x, const char *type)
{
	const char	*b = strstr(type + 19, "boundary=");

	if (b == NULL) {
		x->bad_form = "the Content-Type has no boundary";
		return;
	}
	b += strlen("boundary=");
	x->blen = strlen(b);
	if (x->blen >= 2 && b[0] == '"' && b[x->blen - 1] == '"') {
		b++;
		x->blen -= 2;
	}
	if (x->blen == 0) {
		x->bad_form = "the Content-Type has an empty boundary";
		return;
	}
	if (memchr(b, ';', x->blen) != NULL || b[x->blen - 1] == ' ' ||
	    b[x->blen - 1] == '\t') {
		x->bad_form = "the boundary must be the Content-Type's last"
		    " parameter, with nothing after it";
		return;
	}
	x->boundary = b;
	x->tailcap = x->blen + 16;
	if ((x->tail = malloc(x->tailcap)) == NULL)
		x->bad_form = "out of memory";
}

/* Keeps the last bytes of a form, enough to hold its closing delimiter
 * and the line end before it. */
static void
http_form_tail(struct exchange *x, const char *data, size_t n)
{
	size_t	 drop;

	if (n >= x->tailcap) {
		memcpy(x->tail, data + n - x->tailcap, x->tailcap);
		x->taillen = x->tailcap;
		return;
	}
	if (x->taillen + n > x->tailcap) {
		drop = x->taillen + n - x->tailcap;
		memmove(x->tail, x->tail + drop, x->taillen - drop);
		x->taillen -= drop;
	}
	memcpy(x->tail + x->taillen, data, n);
	x->taillen += n;
}

/*
 * Whether a form ends with its closing delimiter, "--boundary--" at the
 * start of a line, and at most line ends after it.  (libmicrohttpd can
 * tell only as its processor is destroyed, and freeing that before the
 * batch is handled made glibc map 8 MB afresh for each float32 batch.)
 */
static int
http_form_closed(const struct exchange *x)
{
	size_t	 n = x->taillen, need = x->blen + 4;

	while (n > 0 && (x->tail[n - 1] == '\r' || x->tail[n - 1] == '\n'))
		n--;
	if (n < need || memcmp(x->tail + n - need, "--", 2) != 0 ||
	    memcmp(x->tail + n - need + 2, x->boundary, x->blen) != 0 ||
	    memcmp(x->tail + n - 2, "--", 2) != 0)
		return 0;
	if (n > need)
		return x->tail[n - need - 1] == '\n';
	return x->fed == x->taillen;	/* at the start of the body */
}

static enum MHD_Result
http_api(struct http *h, struct MHD_Connection *c, struct exchange *x,
    const char *method, const char *url)
{
	struct api_request	 req;
	struct api_reply	 rep;
	struct MHD_Response	*resp;
	struct codec_part	 parts[MAX_PARTS];
	char			 buf[2048], *seg[ROUTE_MAX_SEGMENTS], msg[128];
	const char		*path = url + strlen(API_PREFIX);
	size_t			 nseg, i;

	if (route_segments(path, buf, sizeof(buf), seg, &nseg) == -1)
		return http_error(c, x, method, url, 400, "invalid_field",
		    "the path has a malformed percent-encoding, a NUL byte or"
		    " too many segments");
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.seg = seg;
	req.nseg = nseg;
	req.arg = http_arg;
	req.arg_ctx = x;
	req.body = x->body;
	req.len = x->len;
	if (x->form != NULL && x->bad_form == NULL) {
		if (x->fed > 0 && x->nparts == 0)
			x->bad_form = "no part begins with the Content-Type's"
			    " boundary";
		else if (x->nparts > 0 && !http_form_closed(x))
			x->bad_form = "the body ends before its closing"
			    " delimiter (--boundary--)";
	}
	if (x->bad_form != NULL) {
		snprintf(msg, sizeof(msg), "multipart/form-data: %s",
		    x->bad_form);
		return http_error(c, x, method, url, 400, "bad_form", msg);
	}
	if (x->form != NULL) {
		for (i = 0; i < x->nparts; i++) {
			parts[i].name = x->parts[i].name;
			parts[i].data = x->parts[i].data;
			parts[i].len = x->parts[i].len;
		}
		req.parts = parts;
		req.nparts = x->nparts;
	}
	api_handle(h->api, &req, &rep);
	resp = rep.stream != NULL ? http_stream(&rep) : http_json(rep.body);
	if (resp != NULL && rep.allow != NULL)
		MHD_add_response_header(resp, "Allow", rep.allow);
	return http_send(c, x, method, url, (unsigned)rep.status, resp);
}

static const char *
http_mime(const char *path)
{
	static const char *const types[][2] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".json", "application/json; charset=utf-8" },
	};
	const char	*dot = strrchr(path, '.');
	size_t		 i;

	for (i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i][0]) == 0)
			return types[i][1];
	return "application/octet-stream";
}

static enum MHD_Result
http_static(struct http *h, struct MHD_Connection *c, struct exchange *x,
    const char *method, const char *url)
{
	struct MHD_Response	*resp;
	struct stat		 sb;
	char			 path[4096 + 1024], real[PATH_MAX];
	size_t			 rlen = strlen(h->root);
	int			 fd = -1;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return http_error(c, x, method, url, 405,
		    "method_not_allowed", "only GET and HEAD are allowed"
		    " here");
	/* The resolved path must still lie in the resolved root, so that
	 * no symbolic link leads out of it either. */
	if (route_file(h->o.web_root, url, path, sizeof(path)) == 0 &&
	    realpath(path, real) != NULL && rlen > 0 &&
	    strncmp(real, h->root, rlen) == 0 && real[rlen] == '/')
		fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
		    O_NONBLOCK);
	if (fd == -1 || fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		if (fd != -1)
			close(fd);
		return http_error(c, x, method, url, 404, "not_found",
		    "no such file");
	}
	if ((resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd)) ==
	    NULL) {
		close(fd);
		return http_send(c, x, method, url, 500, NULL);
	}
	MHD_add_response_header(resp, "Content-Type", http_mime(path));
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	return http_send(c, x, method, url, 200, resp);
}

/* Compares a presented token with the configured one in time that does
 * not depend on where they differ. */
static int
http_token_equal(const char *given, const char *want)
{
	size_t		 gl = strlen(given), wl = strlen(want), i;
	unsigned char	 d = gl != wl;

	for (i = 0; i < wl; i++)
		d |= (unsigned char)want[i] ^ (unsigned char)given[i % (gl + 1)];
	return d == 0;
}

/*
 * Reads need the read token (or the write token) when one is set;
 * writes need the write token, or the read token when only that is
 * set, so that a read token never leaves writes open by accident.
 */
static int
http_authorized(const struct http *h, struct MHD_Connection *c,
    const char *method)
{
	const char	*auth, *tok;
	int		 read = strcmp(method, "GET") == 0 ||
			    strcmp(method, "HEAD") == 0;

	if (h->o.read_token == NULL && h->o.write_token == NULL)
		return 1;
	if (read && h->o.read_token == NULL)
		return 1;
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return 0;
	tok = auth + 7;
	if (h->o.write_token != NULL && http_token_equal(tok,
	    h->o.write_token))
		return 1;
	if (h->o.read_token != NULL && http_token_equal(tok,
	    h->o.read_token))
		return read || h->o.write_token == NULL;
	return 0;
}

static enum MHD_Result
http_unauthorized(struct MHD_Connection *c, struct exchange *x,
    const char *method, const char *url)
{
	struct api_reply	 rep;
	struct MHD_Response	*resp;

	memset(&rep, 0, sizeof(rep));
	api_error(&rep, 401, "unauthorized", "a valid bearer token is"
	    " required (Authorization: Bearer TOKEN)");
	if ((resp = http_json(rep.body)) != NULL)
		MHD_add_response_header(resp, "WWW-Authenticate",
		    "Bearer realm=\"lossmon\"");
	return http_send(c, x, method, url, 401, resp);
}

/* Answers a CORS preflight for the configured origin. */
static enum MHD_Result
http_preflight(struct MHD_Connection *c, struct exchange *x,
    const char *method, const char *url)
{
	struct MHD_Response	*resp;

	resp = MHD_create_response_from_buffer(0, NULL,
	    MHD_RESPMEM_PERSISTENT);
	if (resp != NULL) {
		MHD_add_response_header(resp, "Access-Control-Allow-Methods",
		    "GET, PUT, POST, DELETE");
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type");
		MHD_add_response_header(resp, "Access-Control-Max-Age",
		    "600");
	}
	return http_send(c, x, method, url, 204, resp);
}

static enum MHD_Result
http_dispatch(struct http *h, struct MHD_Connection *c, struct exchange *x,
    const char *method, const char *url)
{
	char	 msg[128];

	if (x->unauthorized)
		return http_unauthorized(c, x, method, url);
	if (x->too_large) {
		snprintf(msg, sizeof(msg), "the request body exceeds the"
		    " limit of %zu bytes (max_body_bytes)", h->o.max_body);
		return http_error(c, x, method, url, 413, "too_large", msg);
	}
	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) == 0) {
		if (strcmp(method, "OPTIONS") == 0 && h->o.cors_origin)
			return http_preflight(c, x, method, url);
		if (!http_authorized(h, c, method))
			return http_unauthorized(c, x, method, url);
		return http_api(h, c, x, method, url);
	}
	if (strcmp(url, "/healthz") == 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return http_error(c, x, method, url, 405,
			    "method_not_allowed", "only GET is allowed here");
		return http_send(c, x, method, url, 200,
		    http_json(strdup("{\"status\":\"ok\"}")));
	}
	if (strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0)
		return http_error(c, x, method, url, 404, "not_found",
		    "no such API endpoint (the API is under /api/v1/)");
	return http_static(h, c, x, method, url);
}

/*
 * Takes a chunk of a part of a multipart/form-data body.  A chunk at
 * offset 0 starts a new part, except after an empty chunk at offset 0
 * of the same name: libmicrohttpd gives one when a read ends a few
 * bytes into a value, and the value's first bytes follow, again at
 * offset 0.  The parts are never more than the bytes fed, which
 * http_access() keeps within the body limit.
 */
static enum MHD_Result
http_part(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *filename, const char *type, const char *encoding,
    const char *data, uint64_t off, size_t size)
{
	struct exchange	*x = cls;
	struct upload	*u = x->nparts > 0 ? &x->parts[x->nparts - 1] : NULL;
	unsigned char	*p;
	size_t		 cap, most;

	(void)kind;
	(void)filename;
	(void)type;
	(void)encoding;
	if (x->too_large)
		return MHD_YES;
	if (off == 0 && (u == NULL || u->len > 0 || key == NULL ||
	    strcmp(u->name, key) != 0)) {
		if (key == NULL) {
			x->bad_form = "a part has no name";
			return MHD_NO;
		}
		if (x->nparts == MAX_PARTS) {
			x->bad_form = "the body has more than 16 parts";
			return MHD_NO;
		}
		u = &x->parts[x->nparts++];
		snprintf(u->name, sizeof(u->name), "%s", key);
	}
	if (u == NULL)
		return MHD_NO;
	if (u->len + size > u->cap) {
		cap = (u->len + size) * 2;
		if (x->announced > x->fed) {
			/*
			 * A part is at most what it holds and the rest of an
			 * announced body.  A part longer than its first chunk
			 * reserves that at once, which spares the copies of
			 * growing it, while the parts of the request reserve
			 * at most twice its length.  Pages never written cost
			 * no memory.
			 */
			most = u->len + (x->announced - x->fed);
			if (cap > most || (u->len > 0 &&
			    x->reserved - u->cap + most <= 2 * x->announced))
				cap = most;
			if (cap < u->len + size)
				cap = u->len + size;
		}
		if ((p = realloc(u->data, cap)) == NULL) {
			x->too_large = 1;
			return MHD_YES;
		}
		x->reserved += cap - u->cap;
		u->data = p;
		u->cap = cap;
	}
	if (size > 0)
		memcpy(u->data + u->len, data, size);
	u->len += size;
	return MHD_YES;
}

/*
 * Prepares for the body of a request: a form processor for
 * multipart/form-data, and otherwise a buffer of the announced length,
 * so that a large body is not copied as it grows.  A length over the
 * limit marks the request too large: its body is dropped as it comes.
 */
static void
http_begin_body(struct http *h, struct MHD_Connection *c,
    struct exchange *x)
{
	const char		*type, *length;
	char			*end;
	unsigned long long	 n;

	length = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	n = length == NULL ? 0 : strtoull(length, &end, 10);
	if (n != 0 && *end != '\0')
		n = 0;
	if (n > h->o.max_body) {
		x->too_large = 1;
		return;
	}
	x->announced = (size_t)n;
	type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (type != NULL && strncasecmp(type, "multipart/form-data", 19) ==
	    0) {
		if ((x->form = MHD_create_post_processor(c, 65536, http_part,
		    x)) == NULL)
			x->bad_form = "the Content-Type has no usable boundary"
			    " (multipart/form-data; boundary=...)";
		else
			http_form_boundary(x, type);
		return;
	}
	if (n != 0 && (x->body = malloc((size_t)n + 1)) != NULL)
		x->cap = (size_t)n + 1;
}

/* Appends a chunk of the body, or marks the request too large. */
static void
http_body(struct http *h, struct exchange *x, const char *data, size_t n)
{
	char	*p;
	size_t	 cap;

	if (x->too_large || x->len + n > h->o.max_body) {
		x->too_large = 1;
		return;
	}
	if (x->len + n + 1 > x->cap) {
		cap = (x->len + n + 1) * 2;
		if (cap > h->o.max_body + 1)
			cap = h->o.max_body + 1;
		if ((p = realloc(x->body, cap)) == NULL) {
			x->too_large = 1;
			return;
		}
		x->body = p;
		x->cap = cap;
	}
	memcpy(x->body + x->len, data, n);
	x->len += n;
	x->body[x->len] = '\0';
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *size, void **state)
{
	struct http	*h = cls;
	struct exchange	*x = *state;

	(void)version;
	if (x == NULL) {
		if ((x = calloc(1, sizeof(*x))) == NULL)
			return MHD_NO;
		x->conn = c;
		x->h = h;
		__atomic_add_fetch(&h->inflight, 1, __ATOMIC_SEQ_CST);
		clock_gettime(CLOCK_MONOTONIC, &x->start);
		*state = x;
		/* A request that will be refused has its body read and
		 * dropped, not kept: nobody without a token, and no body
		 * over the limit, makes the daemon hold memory.  (Answering
		 * before the body would break clients still sending it.) */
		if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) == 0 &&
		    strcmp(method, "OPTIONS") != 0 &&
		    !http_authorized(h, c, method))
			x->unauthorized = 1;
		else
			http_begin_body(h, c, x);
		return MHD_YES;
	}
	if (*size != 0) {
		if (x->unauthorized || x->bad_form != NULL || x->too_large) {
			/* Dropped: the request is refused anyway. */
		} else if (x->form == NULL)
			http_body(h, x, data, *size);
		else if (x->fed + *size > h->o.max_body)
			x->too_large = 1;	/* even outside the parts */
		else {
			http_form_tail(x, data, *size);
			if (MHD_post_process(x->form, data, *size) != MHD_YES &&
			    x->bad_form == NULL)
				x->bad_form = "the body is malformed";
			x->fed += *size;
		}
		*size = 0;
		return MHD_YES;
	}
	return http_dispatch(h, c, x, method, url);
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **state,
    enum MHD_RequestTerminationCode toe)
{
	struct exchange	*x = *state;
	size_t		 i;

	(void)c;
	(void)toe;
	if (x == NULL)
		return;
	__atomic_sub_fetch(&((struct http *)cls)->inflight, 1,
	    __ATOMIC_SEQ_CST);
	for (i = 0; i < x->nargs; i++)
		free(x->args[i]);
	for (i = 0; i < x->nparts; i++)
		free(x->parts[i].data);
	if (x->form != NULL)
		MHD_destroy_post_processor(x->form);
	free(x->tail);
	free(x->body);
	free(x);
	*state = NULL;
}

/* Parses "ADDR:PORT" or "[ADDR]:PORT" into a socket address. */
static int
http_parse_listen(const char *spec, struct sockaddr_storage *ss,
    char *host, size_t hostlen)
{
	struct sockaddr_in	*in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*in6 = (struct sockaddr_in6 *)ss;
	const char		*colon = strrchr(spec, ':');
	char			*end;
	long			 port;
	size_t			 n;

	if (colon == NULL)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535)
		return -1;
	n = (size_t)(colon - spec);
	if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') {
		spec++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, spec, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -1;
}

/* The options of libmicrohttpd for these settings, in opts[]. */
static void
http_mhd_options(struct http *h, struct sockaddr_storage *ss,
    struct MHD_OptionItem *opts)
{
	const struct http_options	*o = &h->o;
	size_t				 n = 0;

#define OPT(k, v, p) do { \
	opts[n].option = (k); \
	opts[n].value = (intptr_t)(v); \
	opts[n].ptr_value = (void *)(p); \
	n++; \
} while (0)
	/* The logger first, so that it sees what the others say. */
	OPT(MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL);
	OPT(MHD_OPTION_SOCK_ADDR, 0, ss);
	if (o->threads > 0)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL);
	else
		OPT(MHD_OPTION_THREAD_STACK_SIZE, HTTP_STACK, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, o->timeout, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	    NULL);
	OPT(MHD_OPTION_CONNECTION_LIMIT, o->max_conns, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_conns_ip, NULL);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, http_completed, h);
	OPT(MHD_OPTION_UNESCAPE_CALLBACK, http_no_unescape, h);
	if (o->tls_cert != NULL) {
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, o->tls_cert);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, o->tls_key);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
}

struct http *
http_start(const struct http_options *o, struct api *api, char *err,
    size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct MHD_OptionItem	 opts[16];
	const union MHD_DaemonInfo *info;
	struct http		*h;
	unsigned		 flags = MHD_USE_INTERNAL_POLLING_THREAD |
				    MHD_USE_ERROR_LOG | MHD_USE_ITC;
	char			 host[256];

	if (http_parse_listen(o->listen, &ss, host, sizeof(host)) == -1) {
		snprintf(err, errlen, "listen address \"%s\" is not"
		    " ADDR:PORT with a numeric IPv4 or [IPv6] address",
		    o->listen);
		return NULL;
	}
	if (o->tls_cert != NULL &&
	    MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errlen, "TLS is configured but this"
		    " libmicrohttpd was built without it");
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->api = api;
	h->o = *o;
	if (realpath(o->web_root, h->root) == NULL) {
		log_warn("http", "web root %s: %s; the dashboard will not be"
		    " served", o->web_root, strerror(errno));
		h->root[0] = '\0';
	}
	/*
	 * A handler waits while the store commits its write.  With a
	 * thread per connection every client's request is in the store's
	 * queue at once, and the writer commits them together; a pool
	 * thread would hold its other connections back meanwhile.  Those
	 * threads wait with poll(): select() fails on descriptors past
	 * FD_SETSIZE, which a thousand connections reach.
	 */
	flags |= o->threads > 0 ? MHD_USE_EPOLL :
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (o->tls_cert != NULL)
		flags |= MHD_USE_TLS;
	http_mhd_options(h, &ss, opts);

	/* The port only names the address in libmicrohttpd's messages. */
	h->mhd = MHD_start_daemon(flags, ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port), NULL, NULL, http_access, h,
	    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (h->mhd == NULL) {
		snprintf(err, errlen, "cannot listen on %s (in use, not an"
		    " address of this machine, or a bad TLS key?)",
		    o->listen);
		free(h);
		return NULL;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(h->url, sizeof(h->url), ss.ss_family == AF_INET6 ?
	    "%s://[%s]:%u" : "%s://%s:%u", o->tls_cert ? "https" : "http",
	    host, info ? (unsigned)info->port : 0);
	return h;
}

const char *
http_url(const struct http *h)
{
	return h->url;
}

void
http_stop(struct http *h)
{
	unsigned	 waited;

	if (h == NULL)
		return;
	/* No new connections; the requests begun get the drain time. */
	MHD_quiesce_daemon(h->mhd);
	for (waited = 0; waited < h->o.drain * 20 &&
	    __atomic_load_n(&h->inflight, __ATOMIC_SEQ_CST) > 0; waited++)
		poll(NULL, 0, 50);
	if (__atomic_load_n(&h->inflight, __ATOMIC_SEQ_CST) > 0)
		log_warn("http", "%u requests still in flight after %us;"
		    " closing them", h->inflight, h->o.drain);
	MHD_stop_daemon(h->mhd);
	free(h);
}
