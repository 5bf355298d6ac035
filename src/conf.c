/* Configuration: defaults, the JSON file, command-line flags. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
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
"       lossmond [--config PATH] [--db PATH] --backup DEST\n"
"\n"
"Computes the losses of training runs posted over HTTP, keeps them in\n"
"SQLite and serves a dashboard of their curves.  Flags override the\n"
"configuration file; see README.md for its keys.  --backup copies the\n"
"database, even while a lossmond writes to it, to DEST and exits.\n";

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
	c->threads = 0;
	c->max_body = 64u << 20;
	c->max_elements = 16u << 20;
	c->max_depth = 32;
	c->timeout = 30;
	c->max_conns = 1000;
	c->max_conns_ip = 64;
	c->drain = 10;
	if ((arr = cJSON_Parse(DEFAULT_LOSSES)) == NULL)
		return -1;
	rc = conf_default_losses(c, arr, err, sizeof(err));
	cJSON_Delete(arr);
	return rc;
}

/* The keys of the file that hold a string or a whole number. */
struct conf_key {
	const char	*key;
	size_t		 off;		/* of the field in struct conf */
	size_t		 len;		/* of a string field; 0: a number */
	double		 lo, hi;	/* bounds of a number */
};

#define STR(k, f)	{ k, offsetof(struct conf, f), \
			    sizeof(((struct conf *)0)->f), 0, 0 }
#define NUM(k, f, lo, hi) { k, offsetof(struct conf, f), 0, lo, hi }

static const struct conf_key conf_keys[] = {
	STR("listen", listen),
	STR("db", db),
	STR("web_root", web_root),
	STR("log_level", log_level),
	STR("synchronous", synchronous),
	STR("read_token_file", read_token_file),
	STR("write_token_file", write_token_file),
	STR("tls_cert", tls_cert),
	STR("tls_key", tls_key),
	STR("cors_origin", cors_origin),
	NUM("max_body_bytes", max_body, 1024, 1 << 30),
	NUM("max_batch_elements", max_elements, 1, 1e9),
	NUM("max_json_depth", max_depth, 4, 1000),
	NUM("connection_timeout", timeout, 1, 3600),
	NUM("max_connections", max_conns, 1, 100000),
	NUM("max_connections_per_address", max_conns_ip, 1, 100000),
	NUM("shutdown_drain_seconds", drain, 0, 3600),
};

/* Applies one key-value pair of the file. */
static int
conf_key(struct conf *c, const cJSON *it, char *err, size_t errlen)
{
	const struct conf_key	*k;
	char			*field;
	double			 v;
	size_t			 i;

	if (strcmp(it->string, "default_losses") == 0)
		return conf_default_losses(c, it, err, errlen);
	if (strcmp(it->string, "threads") == 0) {
		v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
		if (!(v >= 0 && v <= 256) || floor(v) != v) {
			snprintf(err, errlen, "threads must be an integer"
			    " from 0 to 256");
			return -1;
		}
		c->threads = (unsigned)v;
		return 0;
	}
	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (strcmp(it->string, conf_keys[i].key) == 0)
			break;
	if (i == sizeof(conf_keys) / sizeof(conf_keys[0])) {
		snprintf(err, errlen, "%.64s: unknown key", it->string);
		return -1;
	}
	k = &conf_keys[i];
	field = (char *)c + k->off;
	if (k->len > 0) {
		if (!cJSON_IsString(it) ||
		    strlen(it->valuestring) >= k->len) {
			snprintf(err, errlen, "%s must be a string of at most"
			    " %zu bytes", k->key, k->len - 1);
			return -1;
		}
		memcpy(field, it->valuestring, strlen(it->valuestring) + 1);
		return 0;
	}
	v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
	if (!(v >= k->lo && v <= k->hi) || floor(v) != v) {
		snprintf(err, errlen, "%s must be an integer from %.0f to %.0f",
		    k->key, k->lo, k->hi);
		return -1;
	}
	*(size_t *)(void *)field = (size_t)v;
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
	if (c->listen[0] == '\0' || c->db[0] == '\0' ||
	    c->web_root[0] == '\0') {
		snprintf(err, errlen, "listen, db and web_root must not be"
		    " empty");
		return -1;
	}
	for (i = 0; c->cors_origin[i] != '\0'; i++)
		if ((unsigned char)c->cors_origin[i] <= ' ') {
			snprintf(err, errlen, "cors_origin must be an origin"
			    " such as https://example.org, without spaces or"
			    " control characters");
			return -1;
		}
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
		snprintf(err, errlen, "tls_cert and tls_key go together");
		return -1;
	}
	for (i = 0; syncs[i] != NULL; i++)
		if (strcmp(c->synchronous, syncs[i]) == 0)
			return 0;
	snprintf(err, errlen, "synchronous must be full, extra, normal or"
	    " off");
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

char *
conf_read_file(const char *path, char *err, size_t errlen)
{
	FILE	*f;
	char	*text = NULL;
	long	 len;

	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
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
		free(text);
		text = NULL;
		goto out;
	}
	text[len] = '\0';

out:
	fclose(f);
	return text;
}

char *
conf_read_token(const char *path, char *err, size_t errlen)
{
	char	*t;
	size_t	 n;

	if ((t = conf_read_file(path, err, errlen)) == NULL)
		return NULL;
	n = strlen(t);
	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' ||
	    t[n - 1] == ' ' || t[n - 1] == '\t'))
		t[--n] = '\0';
	if (n < 16 || strcspn(t, " \t\r\n") != n) {
		snprintf(err, errlen, "%s: a token must be one line of at"
		    " least 16 characters without spaces", path);
		free(t);
		return NULL;
	}
	return t;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	char	*text, msg[256];
	int	 rc;

	if ((text = conf_read_file(path, err, errlen)) == NULL)
		return -1;
	if ((rc = conf_parse(c, text, msg, sizeof(msg))) == -1)
		snprintf(err, errlen, "%s: %s", path, msg);
	free(text);
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
		{ "--backup", c->backup, sizeof(c->backup) },
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
