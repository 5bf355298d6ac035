/*
 * The REST API under /api/v1: routes a decoded request to its handler,
 * which validates it, runs the loss engine and reads or writes the
 * store, and answers with a status and a JSON body.  It knows nothing
 * of sockets or of libmicrohttpd.
 */
#ifndef LOSSMON_API_H
#define LOSSMON_API_H

#include <stddef.h>

#include "codec.h"
#include "store.h"

struct run_cache;

struct api {
	struct store		*store;
	const struct loss_term	*default_terms;	/* for new runs */
	size_t			 ndefault;
	struct run_cache	*runs;		/* from api_cache_new(); or NULL */
};

struct api_request {
	const char	 *method;
	char		**seg;		/* path segments after /api/v1, */
	size_t		  nseg;		/* each percent-decoded once */
	/* A query argument, decoded, or NULL when absent. */
	const char	*(*arg)(void *, const char *);
	void		 *arg_ctx;
	const char	 *body;
	size_t		  len;
	/* The parts of a multipart/form-data body, instead of body. */
	const struct codec_part *parts;
	size_t		  nparts;
};

struct api_reply {
	int		 status;
	char		*body;		/* JSON text, freed with free() */
	const char	*allow;		/* the Allow header of a 405 */
	/*
	 * Or, instead of body, a reply written as it is sent: stream fills
	 * buf with up to max bytes and returns their count, 0 at the end or
	 * -1 on an error; stream_free releases stream_arg afterwards.
	 */
	long		(*stream)(void *, char *buf, size_t max);
	void		*stream_arg;
	void		(*stream_free)(void *);
};

/* The decoded runs posts go to, kept between requests; NULL when out
 * of memory, which an API works without. */
struct run_cache *api_cache_new(void);
void	 api_cache_free(struct run_cache *);

/* Answers a request; never fails: errors become 4xx/5xx replies. */
void	 api_handle(struct api *, const struct api_request *,
	    struct api_reply *);

/* Sets an error reply {"error": {"code", "message"}}. */
void	 api_error(struct api_reply *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
