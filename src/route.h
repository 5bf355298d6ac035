/*
 * URL routing, pure string work: decodes a path into its segments, each
 * percent-decoded exactly once, and maps a path to a file of the web
 * root without ever leaving it.
 */
#ifndef LOSSMON_ROUTE_H
#define LOSSMON_ROUTE_H

#include <stddef.h>

#define ROUTE_MAX_SEGMENTS	8

/*
 * Percent-decodes s in place.  Returns its new length, or -1 when s has
 * a malformed escape or decodes to a NUL byte.
 */
long	 route_unescape(char *s);

/*
 * Copies path into buf (of len bytes), splits it at '/' and decodes
 * each segment, so that "%2F" stays inside its segment.  Leading
 * slashes and one trailing slash are ignored.  Returns 0 with
 * seg[0..*nseg) pointing into buf, or -1 when the path is too long, has
 * an empty segment ("a//b"), more than ROUTE_MAX_SEGMENTS segments or a
 * segment that does not decode.
 */
int	 route_segments(const char *path, char *buf, size_t len,
	    char **seg, size_t *nseg);

/*
 * Writes into out the file of the web root that a URL path names:
 * "root/a/b", or "root/a/index.html" for a path ending in '/'.  Returns
 * -1, refusing, when a segment is empty-named, "." or "..", starts with
 * a dot or decodes to a slash or backslash, or out is too small.
 */
int	 route_file(const char *root, const char *url, char *out,
	    size_t len);

#endif
