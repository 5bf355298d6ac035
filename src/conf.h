/*
 * Configuration: built-in defaults, then a JSON file (comments allowed),
 * then command-line flags, each overriding the one before.
 */
#ifndef LOSSMON_CONF_H
#define LOSSMON_CONF_H

#include <stddef.h>

#include "codec.h"

struct conf {
	char		 listen[256];	/* "ADDR:PORT"; port 0 picks one */
	char		 db[4096];	/* SQLite file */
	char		 web_root[4096];
	char		 log_level[16];
	char		 synchronous[16]; /* SQLite: full, normal or off */
	unsigned	 threads;	/* HTTP pool; 0: one per connection */
	size_t		 max_body;	/* bytes of a request body */
	size_t		 max_elements;	/* numbers in one batch */
	size_t		 max_depth;	/* nesting of a JSON body */
	size_t		 timeout;	/* seconds a connection may idle */
	size_t		 max_conns;	/* open connections */
	size_t		 max_conns_ip;	/* open connections per address */
	size_t		 drain;		/* seconds to finish on SIGTERM */
	char		 read_token_file[4096];	/* "" for none */
	char		 write_token_file[4096];
	char		 tls_cert[4096];	/* PEM files; "" for HTTP */
	char		 tls_key[4096];
	char		 cors_origin[256];	/* "" sends no CORS headers */
	char		 backup[4096];	/* --backup: copy db there, exit */
	struct loss_term *default_terms; /* for runs first seen unset */
	size_t		 ndefault;
};

/* Sets the built-in defaults; 0, or -1 when out of memory. */
int	 conf_defaults(struct conf *);

/*
 * Reads the JSON configuration text (comments allowed).  Returns 0, or
 * -1 with a message naming the key and the problem in err.
 */
int	 conf_parse(struct conf *, const char *text, char *err,
	    size_t errlen);

/* Reads a configuration file; as conf_parse, the message also names
 * the file. */
int	 conf_load(struct conf *, const char *path, char *err,
	    size_t errlen);

/*
 * Applies the command line: finds --config first and loads it, then
 * applies the other flags over it.  Returns 0, 1 when --help or
 * --version was answered, or -1 with a message in err.
 */
int	 conf_args(struct conf *, int argc, char **argv, char *err,
	    size_t errlen);

/* The contents of a file of at most 1 MiB, NUL-terminated, for the
 * caller to free; NULL with the reason in err. */
char	*conf_read_file(const char *path, char *err, size_t errlen);

/* A bearer token from a file: one line, trailing white space removed,
 * at least 16 characters; NULL with the reason in err. */
char	*conf_read_token(const char *path, char *err, size_t errlen);

void	 conf_free(struct conf *);

#endif
