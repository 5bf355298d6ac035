/*
 * Logging for operators: one line per event on standard error,
 *   2026-12-03T12:00:00Z info http: ...
 * Request data must go through log_escape() before it is logged.
 */
#ifndef LOSSMON_LOG_H
#define LOSSMON_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Lines above this level are dropped; LOG_INFO unless set. */
void	 log_set_level(enum log_level);
int	 log_level_lookup(const char *, enum log_level *);

void	 log_msg(enum log_level, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Copies s into buf (of size len, at least 8) with control characters,
 * quotes, backslashes and bytes above 0x7e written as \xNN, cutting it
 * with "..." when it does not fit.  Returns buf.
 */
char	*log_escape(const char *s, char *buf, size_t len);

#endif
