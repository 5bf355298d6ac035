/* URL routing: percent-decoding, path segments, web-root files. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "route.h"

long
route_unescape(char *s)
{
	char	*r = s, *w = s;
	int	 hi, lo;

	for (; *r != '\0'; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		hi = r[1] ? (r[1] | 0x20) : 0;
		lo = hi && r[2] ? (r[2] | 0x20) : 0;
		hi = hi >= '0' && hi <= '9' ? hi - '0' :
		    hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' :
		    lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		*w++ = (char)(hi << 4 | lo);
		r += 2;
	}
	*w = '\0';
	return (long)(w - s);
}

int
route_segments(const char *path, char *buf, size_t len, char **seg,
    size_t *nseg)
{
	char	*p, *slash;

	if (strlen(path) >= len)
		return -1;
	strcpy(buf, path);
	*nseg = 0;
	p = buf;
	while (*p == '/')
		p++;
	while (*p != '\0') {
		if ((slash = strchr(p, '/')) != NULL)
			*slash = '\0';
		/* "a//b" names nothing; only a trailing slash is allowed. */
		if (*p == '\0' || *nseg == ROUTE_MAX_SEGMENTS ||
		    route_unescape(p) < 0)
			return -1;
		seg[(*nseg)++] = p;
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return 0;
}

int
route_file(const char *root, const char *url, char *out, size_t len)
{
	char	 buf[1024], *seg[ROUTE_MAX_SEGMENTS];
	size_t	 nseg, i, o;
	int	 w;

	if (route_segments(url, buf, sizeof(buf), seg, &nseg) == -1)
		return -1;
	w = snprintf(out, len, "%s", root);
	if (w < 0 || (size_t)w >= len)
		return -1;
	o = (size_t)w;
	for (i = 0; i < nseg; i++) {
		if (seg[i][0] == '.' || strchr(seg[i], '/') != NULL ||
		    strchr(seg[i], '\\') != NULL)
			return -1;
		w = snprintf(out + o, len - o, "/%s", seg[i]);
		if (w < 0 || (size_t)w >= len - o)
			return -1;
		o += (size_t)w;
	}
	if (nseg == 0 || url[strlen(url) - 1] == '/') {
		w = snprintf(out + o, len - o, "/index.html");
		if (w < 0 || (size_t)w >= len - o)
			return -1;
	}
	return 0;
}

