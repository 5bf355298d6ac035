/* Configuration: defaults, the JSON file, command-line flags. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "conf.h"
#include "log.h"

#define DEFAULT_LOSSES	"[{\"type\": \"mse\", \"weight\": 1}]"

static const char usage[] =
"usage: lossmond [--config PATH] [--listen ADDR:PORT] [--db PATH]\n"
"                [--web DIR] [--log-level error|warn|info|debug]\n"
"\n"
"Computes the losses of training runs posted over HTTP, keeps them in\n"
"SQLite and serves a dashboard of their curves.  Flags override the\n"
"configuration file; see README.md for its keys.\n";

static int
conf_default_losses(struct conf *c, const cJSON *arr, char *err,
    size_t errlen)
{
	struct codec_error	 cerr;
	struct loss_term	*terms;
	size_t			 n;

	if (codec_terms(arr, "default_losses", &terms, &n, &cerr) == -1) {
		snprintf(err, errlen, "%s", cerr.message);
		return -1;
	}
	free(c->default_terms);
	c->default_terms = terms;
	c->ndefault = n;
	return 0;
}

int
conf_defaults(struct conf *c)
{
	cJSON	*arr;
	char	 err[256];
	int	 rc;

	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8080");
	snprintf(c->db, sizeof(c->db), "lossmon.db");
	snprintf(c->web_root, sizeof(c->web_root), "%s", LOSSMON_WEBROOT);
	snprintf(c->log_level, sizeof(c->log_level), "info");
	snprintf(c->synchronous, sizeof(c->synchronous), "full");
	c->threads = 4;
	c->max_body = 64u << 20;
	if ((arr = cJSON_Parse(DEFAULT_LOSSES)) == NULL)
		return -1;
	rc = conf_default_losses(c, arr, err, sizeof(err));
	cJSON_Delete(arr);
	return rc;
}

/* Copies a string value into a fixed buffer of the configuration. */
static int
conf_string(const cJSON *it, char *dst, size_t len, char *err,
    size_t errlen)
{
	if (!cJSON_IsString(it)) {
		snprintf(err, errlen, "%s must be a string", it->string);
		return -1;
	}
	if (strlen(it->valuestring) >= len || it->valuestring[0] == '\0') {
		snprintf(err, errlen, "%s must be 1 to %zu bytes", it->string,
		    len - 1);
		return -1;
	}
	snprintf(dst, len, "%s", it->valuestring);
	return 0;
}

/* An integer value within [lo, hi]. */
static int
conf_integer(const cJSON *it, double lo, double hi, double *out,
    char *err, size_t errlen)
{
	double	 v = cJSON_IsNumber(it) ? it->valuedouble : NAN;

	if (!(v >= lo && v <= hi) || floor(v) != v) {
		snprintf(err, errlen, "%s must be an integer from %.0f to %.0f",
		    it->string, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int
conf_check_words(struct conf *c, char *err, size_t errlen)
{
	static const char *const syncs[] = { "full", "normal", "off",
	    "extra", NULL };
	enum log_level	 lvl;
	size_t		 i;

	if (log_level_lookup(c->log_level, &lvl) == -1) {
		snprintf(err, errlen, "log_level must be error, warn, info or"
		    " debug");
		return -1;
	}
	for (i = 0; syncs[i] != NULL; i++)
		if (strcmp(c->synchronous, syncs[i]) == 0)
			return 0;
	snprintf(err, errlen, "synchronous must be full, extra, normal or"
	    " off");
	return -1;
}

/* Applies one key of the file. */
static int
conf_key(struct conf *c, const cJSON *it, char *err, size_t errlen)
{
	const char	*k = it->string;
	double		 v;

	if (strcmp(k, "listen") == 0)
		return conf_string(it, c->listen, sizeof(c->listen), err,
		    errlen);
	if (strcmp(k, "db") == 0)
		return conf_string(it, c->db, sizeof(c->db), err, errlen);
	if (strcmp(k, "web_root") == 0)
		return conf_string(it, c->web_root, sizeof(c->web_root), err,
		    errlen);
	if (strcmp(k, "log_level") == 0)
		return conf_string(it, c->log_level, sizeof(c->log_level),
		    err, errlen);
	if (strcmp(k, "synchronous") == 0)
		return conf_string(it, c->synchronous,
		    sizeof(c->synchronous), err, errlen);
	if (strcmp(k, "default_losses") == 0)
		return conf_default_losses(c, it, err, errlen);
	if (strcmp(k, "threads") == 0) {
		if (conf_integer(it, 1, 256, &v, err, errlen) == -1)
			return -1;
		c->threads = (unsigned)v;
		return 0;
	}
	if (strcmp(k, "max_body_bytes") == 0) {
		if (conf_integer(it, 1024, 1 << 30, &v, err, errlen) == -1)
			return -1;
		c->max_body = (size_t)v;
		return 0;
	}
	snprintf(err, errlen, "%.64s: unknown key", k);
	return -1;
}

int
conf_parse(struct conf *c, const char *text, char *err, size_t errlen)
{
	cJSON	*root;
	char	*copy;
	int	 rc = -1;
	const cJSON *it;

	/* cJSON_Minify drops // and block comments. */
	if ((copy = strdup(text)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_Minify(copy);
	root = cJSON_Parse(copy);
	free(copy);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	cJSON_ArrayForEach(it, root)
		if (conf_key(c, it, err, errlen) == -1)
			goto out;
	rc = conf_check_words(c, err, errlen);

out:
	cJSON_Delete(root);
	return rc;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	FILE	*f;
	char	*text = NULL, msg[256];
	long	 len;
	int	 rc = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) == -1 || (len = ftell(f)) < 0 ||
	    len > (1 << 20) || fseek(f, 0, SEEK_SET) == -1) {
		snprintf(err, errlen, "%s: not a readable file of at most"
		    " 1 MiB", path);
		goto out;
	}
	if ((text = malloc((size_t)len + 1)) == NULL ||
	    fread(text, 1, (size_t)len, f) != (size_t)len) {
		snprintf(err, errlen, "%s: cannot read", path);
		goto out;
	}
	text[len] = '\0';
	if ((rc = conf_parse(c, text, msg, sizeof(msg))) == -1)
		snprintf(err, errlen, "%s: %s", path, msg);

out:
	free(text);
	fclose(f);
	return rc;
}

/* The value of flag argv[*i], which must follow it. */
static const char *
conf_flag_value(int argc, char **argv, int *i, char *err, size_t errlen)
{
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "%s needs a value", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

/* Applies one flag over the configuration. */
static int
conf_flag(struct conf *c, const char *flag, const char *val, char *err,
    size_t errlen)
{
	struct { const char *flag; char *dst; size_t len; } map[] = {
		{ "--listen", c->listen, sizeof(c->listen) },
		{ "--db", c->db, sizeof(c->db) },
		{ "--web", c->web_root, sizeof(c->web_root) },
		{ "--log-level", c->log_level, sizeof(c->log_level) },
	};
	size_t	 i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(flag, map[i].flag) != 0)
			continue;
		if (strlen(val) >= map[i].len || *val == '\0') {
			snprintf(err, errlen, "%s must be 1 to %zu bytes",
			    flag, map[i].len - 1);
			return -1;
		}
		snprintf(map[i].dst, map[i].len, "%s", val);
		return 0;
	}
	snprintf(err, errlen, "unknown option %.64s (see --help)", flag);
	return -1;
}

int
conf_args(struct conf *c, int argc, char **argv, char *err, size_t errlen)
{
	const char	*val;
	int		 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("lossmond %s\n", PACKAGE_VERSION);
			return 1;
		}
		if (strcmp(argv[i], "--config") != 0)
			continue;
		if ((val = conf_flag_value(argc, argv, &i, err, errlen)) ==
		    NULL || conf_load(c, val, err, errlen) == -1)
			return -1;
	}
	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument %.64s",
			    argv[i]);
			return -1;
		}
		if ((val = conf_flag_value(argc, argv, &i, err, errlen)) ==
		    NULL)
			return -1;
		if (strcmp(argv[i - 1], "--config") != 0 &&
		    conf_flag(c, argv[i - 1], val, err, errlen) == -1)
			return -1;
	}
	return conf_check_words(c, err, errlen);
}

void
conf_free(struct conf *c)
{
	free(c->default_terms);
	c->default_terms = NULL;
	c->ndefault = 0;
}
