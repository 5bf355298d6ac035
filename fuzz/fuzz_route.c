/*
 * libFuzzer target: URL routing and the API handlers, on a store in a
 * temporary file.  Input: "METHOD PATH?QUERY\nBODY".
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "conf.h"
#include "route.h"
#include "store.h"

#define MAX_INPUT	65536

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct api	 api;
static struct conf	 conf;
static char		 dbpath[] = "/tmp/lossmon-fuzz-XXXXXX";

static void
cleanup(void)
{
	char	 p[64];

	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
}

/* Looks a key up in the raw query string "a=1&b=2", decoded once. */
static const char *
query_arg(void *ctx, const char *key)
{
	static char	 val[512];
	const char	*q = ctx, *amp, *eq;
	size_t		 klen = strlen(key), n;

	for (; q != NULL && *q != '\0'; q = amp ? amp + 1 : NULL) {
		amp = strchr(q, '&');
		eq = strchr(q, '=');
		if (eq == NULL || (amp != NULL && eq > amp))
			continue;
		if ((size_t)(eq - q) != klen || strncmp(q, key, klen) != 0)
			continue;
		n = amp ? (size_t)(amp - eq - 1) : strlen(eq + 1);
		if (n >= sizeof(val))
			return NULL;
		memcpy(val, eq + 1, n);
		val[n] = '\0';
		return route_unescape(val) < 0 ? NULL : val;
	}
	return NULL;
}

/* A store in a temporary file: its reader connections must see what
 * its writer wrote, which separate in-memory databases would not. */
static void
setup(void)
{
	char	 err[256];
	int	 fd;

	if (api.store != NULL)
		return;
	if ((fd = mkstemp(dbpath)) == -1)
		abort();
	close(fd);
	atexit(cleanup);
	if (conf_defaults(&conf) == -1 ||
	    (api.store = store_open(dbpath, "off", err, sizeof(err))) ==
	    NULL)
		abort();
	api.default_terms = conf.default_terms;
	api.ndefault = conf.ndefault;
	api.runs = api_cache_new();
	codec_set_limits(1u << 16, 32);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 in[MAX_INPUT + 1], pathbuf[2048], out[4096];
	struct api_request	 req;
	struct api_reply	 rep;
	char			*seg[ROUTE_MAX_SEGMENTS], *sp, *nl, *qm;
	size_t			 nseg;

	setup();
	if (size > MAX_INPUT)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if ((sp = strchr(in, ' ')) == NULL)
		return 0;
	*sp++ = '\0';
	if ((nl = strchr(sp, '\n')) != NULL)
		*nl++ = '\0';
	if ((qm = strchr(sp, '?')) != NULL)
		*qm++ = '\0';
	if (route_file("/srv/web", sp, pathbuf, sizeof(pathbuf)) == 0 &&
	    strstr(pathbuf, "/..") != NULL)
		abort();
	if (route_segments(sp, pathbuf, sizeof(pathbuf), seg, &nseg) == -1)
		return 0;

	memset(&req, 0, sizeof(req));
	req.method = in;
	req.seg = seg;
	req.nseg = nseg;
	req.arg = query_arg;
	req.arg_ctx = qm;
	req.body = nl ? nl : "";
	req.len = nl ? (size_t)(in + size - nl) : 0;
	api_handle(&api, &req, &rep);
	free(rep.body);
	/* A streamed reply: read it to its end, as the server would. */
	if (rep.stream != NULL) {
		while (rep.stream(rep.stream_arg, out, sizeof(out)) > 0)
			;
		rep.stream_free(rep.stream_arg);
	}
	return 0;
}
