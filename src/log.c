/* Logging: fixed line format, levels, escaping of untrusted text. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum log_level	 log_level = LOG_INFO;

static const char	*log_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level level)
{
	log_level = level;
}

int
log_level_lookup(const char *name, enum log_level *out)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(name, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_msg(enum log_level level, const char *who, const char *fmt, ...)
{
	char		 stamp[32], line[2048];
	struct tm	 tm;
	time_t		 now;
	va_list		 ap;

	if (level > log_level)
		return;

	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	/* One fprintf call, so that lines of threads do not interleave. */
	fprintf(stderr, "%s %s %s: %s\n", stamp, log_names[level], who, line);
}

char *
log_escape(const char *s, char *buf, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 o = 0;
	unsigned char		 c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		int	 plain = c >= 0x20 && c <= 0x7e && c != '"' &&
			    c != '\\';

		if (o + (plain ? 1 : 4) + 4 > len) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			buf[o++] = (char)c;
			continue;
		}
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[c >> 4];
		buf[o++] = hex[c & 15];
	}
	buf[o] = '\0';
	return buf;
}
