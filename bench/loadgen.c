/*
 * A closed-loop HTTP/1.1 load generator for the benchmarks: CLIENTS
 * threads, each with one keep-alive connection, each sending REQUESTS
 * POSTs one after the other and timing every one from the first byte
 * sent to the last byte of the reply.
 *
 *   loadgen -a HOST -p PORT -c CLIENTS -n REQUESTS -u PATH -b BODYFILE
 *       [-s FIRST_STEP] [-t CONTENT_TYPE] [-e EXPECTED_STATUS]
 *
 * PATH and the body may hold "{client}" (0 .. CLIENTS-1) and "{step}"
 * (FIRST_STEP + the request's number), replaced in every request.
 * Prints one JSON object: requests, seconds, rps, p50_ms, p99_ms,
 * max_ms, unexpected (replies of another status), errors (broken
 * connections), cpu_seconds (this process, to show it was not the
 * bottleneck).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARTS	64

/* A text cut at its placeholders: part i is literal text, followed by
 * placeholder kind[i] (0 none, 1 client, 2 step). */
struct tmpl {
	const char	*lit[MAX_PARTS];
	size_t		 len[MAX_PARTS];
	int		 kind[MAX_PARTS];
	size_t		 n;
};

struct opts {
	struct sockaddr_in	 addr;
	const char		*host;
	int			 port;
	int			 clients;
	long			 requests;
	long long		 first_step;
	const char		*ctype;
	int			 expect;
	struct tmpl		 path, body;
};

struct client {
	const struct opts	*o;
	int			 id;
	double			*lat;		/* ms, one per request */
	long			 unexpected, errors;
	pthread_t		 thread;
};

/* A growing byte buffer. */
struct buf {
	char	*s;
	size_t	 len, cap;
};

static void
die(const char *msg)
{
	fprintf(stderr, "loadgen: %s\n", msg);
	exit(2);
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			die("out of memory");
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
tmpl_parse(struct tmpl *t, const char *s)
{
	const char	*p;

	t->n = 0;
	for (;;) {
		if (t->n == MAX_PARTS)
			die("too many placeholders");
		t->lit[t->n] = s;
		p = strchr(s, '{');
		while (p != NULL && strncmp(p, "{client}", 8) != 0 &&
		    strncmp(p, "{step}", 6) != 0)
			p = strchr(p + 1, '{');
		if (p == NULL) {
			t->len[t->n] = strlen(s);
			t->kind[t->n++] = 0;
			return;
		}
		t->len[t->n] = (size_t)(p - s);
		t->kind[t->n] = p[1] == 'c' ? 1 : 2;
		s = p + (p[1] == 'c' ? 8 : 6);
		t->n++;
	}
}

static void
tmpl_expand(const struct tmpl *t, int client, long long step,
    struct buf *out)
{
	char	 num[32];
	size_t	 i;

	for (i = 0; i < t->n; i++) {
		buf_add(out, t->lit[i], t->len[i]);
		if (t->kind[i] == 0)
			continue;
		if (t->kind[i] == 1)
			snprintf(num, sizeof(num), "%d", client);
		else
			snprintf(num, sizeof(num), "%lld", step);
		buf_add(out, num, strlen(num));
	}
}

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
conn_open(const struct opts *o)
{
	int	 fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&o->addr,
	    sizeof(o->addr)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *s, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = send(fd, s, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Where a chunked body starting at s ends; 0 while incomplete. */
static size_t
chunked_end(const char *s, size_t n)
{
	size_t	 pos = 0, size;
	char	*end;

	for (;;) {
		const char *nl = memchr(s + pos, '\n', n - pos);

		if (nl == NULL)
			return 0;
		size = strtoul(s + pos, &end, 16);
		pos = (size_t)(nl - s) + 1;
		if (size == 0)
			return pos + 2 <= n ? pos + 2 : 0;
		if (pos + size + 2 > n)
			return 0;
		pos += size + 2;
	}
}

/* How many bytes the reply in r takes once complete (0 while it is
 * not), and its status. */
static size_t
reply_length(const struct buf *r, int *status)
{
	const char	*hend, *h;
	size_t		 head, body;

	if (r->len < 12 || (hend = strstr(r->s, "\r\n\r\n")) == NULL)
		return 0;
	head = (size_t)(hend - r->s) + 4;
	*status = atoi(r->s + 9);
	if (*status == 204 || *status == 304 || *status < 200)
		return head;
	for (h = strstr(r->s, "\r\n"); h != NULL && h < hend;
	    h = strstr(h + 2, "\r\n")) {
		if (strncasecmp(h + 2, "content-length:", 15) == 0) {
			body = strtoul(h + 17, NULL, 10);
			return r->len >= head + body ? head + body : 0;
		}
		if (strncasecmp(h + 2, "transfer-encoding: chunked", 26)
		    == 0) {
			body = chunked_end(r->s + head, r->len - head);
			return body ? head + body : 0;
		}
	}
	return head;
}

/* Reads one reply; its status, or -1 when the connection broke. */
static int
read_reply(int fd, struct buf *r)
{
	char	 chunk[65536];
	ssize_t	 got;
	int	 status = 0;

	r->len = 0;
	for (;;) {
		if (r->len > 0 && reply_length(r, &status) > 0)
			return status;
		got = recv(fd, chunk, sizeof(chunk), 0);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		buf_add(r, chunk, (size_t)got);
	}
}

static void *
client_run(void *arg)
{
	struct client		*c = arg;
	const struct opts	*o = c->o;
	struct buf		 path = { 0 }, body = { 0 }, req = { 0 };
	struct buf		 reply = { 0 };
	char			 head[1024];
	double			 t0;
	long			 i;
	int			 fd = -1, status;

	for (i = 0; i < o->requests; i++) {
		path.len = body.len = req.len = 0;
		tmpl_expand(&o->path, c->id, o->first_step + i, &path);
		tmpl_expand(&o->body, c->id, o->first_step + i, &body);
		snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: %s:%d"
		    "\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
		    path.s, o->host, o->port, o->ctype, body.len);
		buf_add(&req, head, strlen(head));
		buf_add(&req, body.s, body.len);

		t0 = now_ms();
		if (fd == -1 && (fd = conn_open(o)) == -1)
			die("cannot connect");
		if (send_all(fd, req.s, req.len) == -1 ||
		    (status = read_reply(fd, &reply)) == -1) {
			c->errors++;
			close(fd);
			fd = -1;
			c->lat[i] = now_ms() - t0;
			continue;
		}
		c->lat[i] = now_ms() - t0;
		if (status != o->expect) {
			if (c->unexpected++ == 0)
				fprintf(stderr, "loadgen: status %d: %.300s\n",
				    status, reply.s);
		}
	}
	if (fd != -1)
		close(fd);
	free(path.s);
	free(body.s);
	free(req.s);
	free(reply.s);
	return NULL;
}

static char *
read_file(const char *path)
{
	struct buf	 b = { 0 };
	char		 chunk[65536];
	size_t		 got;
	FILE		*f;

	if ((f = fopen(path, "rb")) == NULL)
		die("cannot open the body file");
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, got);
	fclose(f);
	if (b.s == NULL)
		buf_add(&b, "", 0);
	return b.s;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile q of n sorted values. */
static double
rank(const double *v, long n, double q)
{
	long	 i = (long)((double)n * q + 0.999999) - 1;

	return v[i < 0 ? 0 : i];
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	const char	*path = NULL, *bodyfile = NULL;
	int		 ch;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->ctype = "application/json";
	o->expect = 200;
	o->clients = 1;
	o->requests = 1;
	while ((ch = getopt(argc, argv, "a:p:c:n:s:u:b:t:e:")) != -1) {
		switch (ch) {
		case 'a':
			o->host = optarg;
			break;
		case 'p':
			o->port = atoi(optarg);
			break;
		case 'c':
			o->clients = atoi(optarg);
			break;
		case 'n':
			o->requests = atol(optarg);
			break;
		case 's':
			o->first_step = atoll(optarg);
			break;
		case 'u':
			path = optarg;
			break;
		case 'b':
			bodyfile = optarg;
			break;
		case 't':
			o->ctype = optarg;
			break;
		case 'e':
			o->expect = atoi(optarg);
			break;
		default:
			die("bad option (see the comment in loadgen.c)");
		}
	}
	if (path == NULL || bodyfile == NULL || o->port <= 0 ||
	    o->clients < 1 || o->requests < 1)
		die("usage: loadgen -a HOST -p PORT -c CLIENTS -n REQUESTS"
		    " -u PATH -b BODYFILE [-s STEP] [-t TYPE] [-e STATUS]");
	o->addr.sin_family = AF_INET;
	o->addr.sin_port = htons((uint16_t)o->port);
	if (inet_pton(AF_INET, o->host, &o->addr.sin_addr) != 1)
		die("HOST must be a numeric IPv4 address");
	tmpl_parse(&o->path, path);
	tmpl_parse(&o->body, read_file(bodyfile));
}

int
main(int argc, char **argv)
{
	struct opts	 o;
	struct client	*c;
	struct rusage	 ru;
	double		*all, t0, secs, cpu;
	long		 unexpected = 0, errors = 0, total;
	int		 j;

	parse_opts(argc, argv, &o);
	total = o.requests * o.clients;
	if ((c = calloc((size_t)o.clients, sizeof(*c))) == NULL ||
	    (all = calloc((size_t)total, sizeof(*all))) == NULL)
		die("out of memory");
	t0 = now_ms();
	for (j = 0; j < o.clients; j++) {
		c[j].o = &o;
		c[j].id = j;
		c[j].lat = all + (size_t)j * (size_t)o.requests;
		if (pthread_create(&c[j].thread, NULL, client_run, &c[j]))
			die("cannot start a thread");
	}
	for (j = 0; j < o.clients; j++) {
		pthread_join(c[j].thread, NULL);
		unexpected += c[j].unexpected;
		errors += c[j].errors;
	}
	secs = (now_ms() - t0) / 1e3;
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	qsort(all, (size_t)total, sizeof(*all), cmp_double);
	printf("{\"requests\": %ld, \"seconds\": %.6f, \"rps\": %.3f,"
	    " \"p50_ms\": %.4f, \"p99_ms\": %.4f, \"max_ms\": %.4f,"
	    " \"unexpected\": %ld, \"errors\": %ld, \"cpu_seconds\": %.4f}\n",
	    total, secs, (double)total / secs, rank(all, total, 0.50),
	    rank(all, total, 0.99), all[total - 1], unexpected, errors, cpu);
	return unexpected || errors ? 1 : 0;
}
