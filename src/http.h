/*
 * The HTTP server (libmicrohttpd): reads requests, splits and decodes
 * their paths, hands /api/v1 to the API, serves /healthz and the files
 * of the web root, and logs one line per request.
 */
#ifndef LOSSMON_HTTP_H
#define LOSSMON_HTTP_H

#include <stddef.h>

#include "api.h"

struct http;

struct http_options {
	const char	*listen;	/* "ADDR:PORT", "[ADDR]:PORT" */
	const char	*web_root;
	unsigned	 threads;	/* pool size; 0: one per connection */
	size_t		 max_body;	/* bytes; larger bodies get a 413 */
	unsigned	 timeout;	/* seconds a connection may idle */
	unsigned	 max_conns;
	unsigned	 max_conns_ip;	/* per client address */
	unsigned	 drain;		/* seconds http_stop() waits */
	const char	*read_token;	/* NULL: reads need none */
	const char	*write_token;	/* NULL: writes need none */
	const char	*tls_cert;	/* PEM text; NULL: plain HTTP */
	const char	*tls_key;
	const char	*cors_origin;	/* NULL: no CORS headers */
};

/* Starts serving; NULL with the reason in err when it cannot. */
struct http	*http_start(const struct http_options *, struct api *,
		    char *err, size_t errlen);

/* The address it listens on, as "http://HOST:PORT", port resolved. */
const char	*http_url(const struct http *);

/* Stops accepting, waits up to the drain time for the requests in
 * flight to finish, then closes every connection and frees it. */
void		 http_stop(struct http *);

#endif
