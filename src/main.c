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

#include "api.h"
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

int
main(int argc, char **argv)
{
	struct conf		 conf;
	struct http_options	 ho;
	struct api		 api;
	struct store		*store;
	struct http		*http;
	enum log_level		 level;
	sigset_t		 set;
	char			 err[512];
	int			 sig, rc;

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
	main_block_signals(&set);

	if ((store = store_open(conf.db, conf.synchronous, err,
	    sizeof(err))) == NULL) {
		log_error("lossmond", "cannot open the database: %s", err);
		conf_free(&conf);
		return 1;
	}
	api.store = store;
	api.default_terms = conf.default_terms;
	api.ndefault = conf.ndefault;
	ho.listen = conf.listen;
	ho.web_root = conf.web_root;
	ho.threads = conf.threads;
	ho.max_body = conf.max_body;
	if ((http = http_start(&ho, &api, err, sizeof(err))) == NULL) {
		log_error("lossmond", "%s", err);
		store_close(store);
		conf_free(&conf);
		return 1;
	}
	log_info("lossmond", "database %s, web root %s", conf.db,
	    conf.web_root);
	log_info("lossmond", "listening on %s/ (dashboard and API)",
	    http_url(http));

	sigwait(&set, &sig);
	log_info("lossmond", "%s received; finishing requests in flight",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT");
	http_stop(http);
	store_close(store);
	conf_free(&conf);
	log_info("lossmond", "stopped");
	return 0;
}
