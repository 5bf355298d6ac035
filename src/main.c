/*
 * lossmond: computes the losses of training runs posted over HTTP,
 * keeps every step in SQLite and serves their curves.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "api.h"
#include "codec.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "store.h"

/* Blocks the signals that end the daemon, in this thread and in every
 * thread started after it, so that main can wait for them. */
static void
main_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* What is read from files named in the configuration. */
struct secrets {
	char	*read_token, *write_token, *tls_cert, *tls_key;
};

static void
main_secrets_free(struct secrets *s)
{
	free(s->read_token);
	free(s->write_token);
	free(s->tls_cert);
	free(s->tls_key);
	memset(s, 0, sizeof(*s));
}

/* Reads the token and TLS files that are configured; -1 with err. */
static int
main_secrets(const struct conf *c, struct secrets *s, char *err,
    size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (c->read_token_file[0] != '\0' && (s->read_token =
	    conf_read_token(c->read_token_file, err, errlen)) == NULL)
		return -1;
	if (c->write_token_file[0] != '\0' && (s->write_token =
	    conf_read_token(c->write_token_file, err, errlen)) == NULL)
		return -1;
	if (c->tls_cert[0] != '\0' && ((s->tls_cert =
	    conf_read_file(c->tls_cert, err, errlen)) == NULL ||
	    (s->tls_key = conf_read_file(c->tls_key, err, errlen)) == NULL))
		return -1;
	return 0;
}

/* Copies the settings of the HTTP server out of the configuration. */
static void
main_http_options(const struct conf *c, const struct secrets *sec,
    struct http_options *ho)
{
	ho->listen = c->listen;
	ho->web_root = c->web_root;
	ho->threads = c->threads;
	ho->max_body = c->max_body;
	ho->timeout = (unsigned)c->timeout;
	ho->max_conns = (unsigned)c->max_conns;
	ho->max_conns_ip = (unsigned)c->max_conns_ip;
	ho->drain = (unsigned)c->drain;
	ho->cors_origin = c->cors_origin[0] ? c->cors_origin : NULL;
	ho->read_token = sec->read_token;
	ho->write_token = sec->write_token;
	ho->tls_cert = sec->tls_cert;
	ho->tls_key = sec->tls_key;
}

int
main(int argc, char **argv)
{
	struct conf		 conf;
	struct http_options	 ho;
	struct api		 api;
	struct secrets		 sec;
	struct store		*store = NULL;
	struct http		*http;
	enum log_level		 level;
	sigset_t		 set;
	char			 err[512];
	int			 sig, rc;

	memset(&sec, 0, sizeof(sec));
	memset(&api, 0, sizeof(api));
	if (conf_defaults(&conf) == -1) {
		fprintf(stderr, "lossmond: out of memory\n");
		return 1;
	}
	if ((rc = conf_args(&conf, argc, argv, err, sizeof(err))) != 0) {
		if (rc == -1)
			fprintf(stderr, "lossmond: %s\n", err);
		conf_free(&conf);
		return rc == 1 ? 0 : 2;
	}
	log_level_lookup(conf.log_level, &level);
	log_set_level(level);
	codec_set_limits(conf.max_elements, conf.max_depth);
	if (conf.backup[0] != '\0') {
		rc = store_backup(conf.db, conf.backup, err, sizeof(err));
		if (rc == -1)
			fprintf(stderr, "lossmond: %s\n", err);
		else
			fprintf(stderr, "lossmond: %s backed up to %s\n",
			    conf.db, conf.backup);
		conf_free(&conf);
		return rc == 0 ? 0 : 1;
	}
	main_block_signals(&set);

	rc = 1;
	if (main_secrets(&conf, &sec, err, sizeof(err)) == -1)
		goto fail;
	if ((store = store_open(conf.db, conf.synchronous, err,
	    sizeof(err))) == NULL)
		goto fail;
	api.store = store;
	api.default_terms = conf.default_terms;
	api.ndefault = conf.ndefault;
	api.runs = api_cache_new();
	main_http_options(&conf, &sec, &ho);
	if ((http = http_start(&ho, &api, err, sizeof(err))) == NULL)
		goto fail;
	log_info("lossmond", "database %s, web root %s", conf.db,
	    conf.web_root);
	log_info("lossmond", "listening on %s/ (dashboard and API)",
	    http_url(http));
#ifdef HAVE_LIBSYSTEMD
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s", http_url(http));
#endif

	sigwait(&set, &sig);
	log_info("lossmond", "%s received; finishing requests in flight",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
#ifdef HAVE_LIBSYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	http_stop(http);
	log_info("lossmond", "stopped");
	rc = 0;
	goto out;

fail:
	log_error("lossmond", "%s", err);
out:
	store_close(store);
	api_cache_free(api.runs);
	main_secrets_free(&sec);
	conf_free(&conf);
	return rc;
}
