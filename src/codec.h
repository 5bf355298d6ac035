/*
 * The JSON forms of the API: decoding and validation of request bodies
 * into plain structs, and the canonical JSON of a run's loss terms.
 *
 * Every decoder returns 0 on success; on bad input it returns -1 and
 * fills a struct codec_error whose message names the field and the
 * problem.  Whatever a decoder allocates is released by the matching
 * *_free function, which also accepts a zeroed struct.
 */
#ifndef LOSSMON_CODEC_H
#define LOSSMON_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "loss.h"

#define CODEC_NAME_MAX		128		/* bytes of a name */
#define CODEC_TERMS_MAX		64		/* loss terms of a run */
#define CODEC_LIST_MAX		1048576		/* list values of a run */
#define CODEC_STEP_MAX		9007199254740991.0	/* 2^53 - 1 */

struct codec_error {
	int	 status;		/* HTTP status: 400, 413, ... */
	char	 code[32];		/* "invalid_field", "bad_json", ... */
	char	 message[256];
};

/* A weighted loss term of a run. */
struct loss_term {
	char		 name[CODEC_NAME_MAX + 1];
	double		 weight;
	struct loss_spec spec;
};

/* The body of PUT /runs/{run}; params and tags are compact JSON text. */
struct run_spec {
	struct loss_term *terms;
	size_t		  nterms;
	char		 *params;	/* "{}" when absent */
	char		 *tags;		/* "{}" when absent */
};

/* A decoded input array: its values and shape. */
struct codec_array {
	double		*data;
	struct tensor	 t;		/* t.data: data, or .npy bytes */
};

/* The body of POST /runs/{run}/batches. */
struct batch_req {
	int64_t		 step;
	char		 split[CODEC_NAME_MAX + 1];
	char		 id[CODEC_NAME_MAX + 1];	/* "" when absent */
	/* The input arrays by field (see loss.h); inputs.t[f] points to
	 * in[f].t for the fields the body has, and is NULL for others. */
	struct codec_array in[LOSS_NFIELDS];
	struct loss_inputs inputs;
};

/* A part of a multipart/form-data body: its name and its bytes. */
struct codec_part {
	const char		*name;
	const unsigned char	*data;
	size_t			 len;
};

/* The body of POST /runs/{run}/scalars. */
struct scalars_req {
	int64_t		 step;
	char		 split[CODEC_NAME_MAX + 1];
	char		 id[CODEC_NAME_MAX + 1];	/* "" when absent */
	size_t		 n;
	char		**names;
	double		*values;
};

/* Sets the largest number of values in one input array and the deepest
 * nesting of a request body; called once at start-up. */
void	 codec_set_limits(size_t max_elements, size_t max_depth);

void	 codec_error_set(struct codec_error *, int, const char *,
	    const char *, ...) __attribute__((format(printf, 4, 5)));

/* Replaces each byte of s that is not part of valid UTF-8 with '?', so
 * that a message quoting bad input is still valid JSON text. */
void	 codec_clean_utf8(char *);

/* Checks the name of a run, metric or split: 1 to 128 bytes of valid
 * UTF-8 without control characters.  field names it in the message. */
int	 codec_check_name(const char *, const char *field,
	    struct codec_error *);

/* Decodes a list of loss terms (a cJSON array) into a new array that
 * also holds the values of their list parameters: one free() releases
 * both, and the specs point into it. */
int	 codec_terms(const cJSON *, const char *field,
	    struct loss_term **, size_t *, struct codec_error *);

int	 codec_run_spec(const char *body, size_t len, struct run_spec *,
	    struct codec_error *);
void	 codec_run_spec_free(struct run_spec *);

int	 codec_batch(const char *body, size_t len, struct batch_req *,
	    struct codec_error *);
void	 codec_batch_free(struct batch_req *);

/*
 * Decodes a batch sent as multipart/form-data: a part named "batch"
 * holds the JSON object (step, split, id, and any input arrays as
 * JSON), and a part named after an input ("predictions", "targets",
 * ...) holds that array as a NumPy .npy file.  An input given twice is
 * an error.  As codec_batch() otherwise; float64 inputs may point into
 * the parts, which must outlive the batch.
 */
int	 codec_batch_parts(const struct codec_part *, size_t,
	    struct batch_req *, struct codec_error *);

int	 codec_scalars(const char *body, size_t len, struct scalars_req *,
	    struct codec_error *);
void	 codec_scalars_free(struct scalars_req *);

/*
 * Parses a step from text (a query argument): a decimal integer from 0
 * to 2^53-1.  Returns 0 or -1 with the error naming field.
 */
int	 codec_step_text(const char *, const char *field, int64_t *,
	    struct codec_error *);

/* The canonical JSON of loss terms, every parameter written out but
 * options (LOSS_OPTION) at their defaults: two runs have the same
 * losses exactly when these strings are equal.
 * Returns a string the caller frees, or NULL when out of memory. */
char	*codec_terms_json(const struct loss_term *, size_t);

/*
 * The catalogue of loss types from the engine's tables, as GET
 * /api/v1/losses answers it: {"losses": [{"type", "formula", "inputs":
 * [{"field", "shape", "required"}], "params": [{"name", "kind",
 * "default", "allowed", "option", "doc", ...}]}]}.  Returns a document
 * the caller deletes, or NULL when out of memory.
 */
cJSON	*codec_losses_json(void);

/* A JSON number, or for NaN and infinities the strings "NaN",
 * "Infinity" and "-Infinity": JSON has no tokens for them. */
cJSON	*codec_number(double);

/* Writes a finite double as the shortest of %.15g, %.16g and %.17g
 * that reads back as the same value, and whole numbers up to 2^53-1
 * as integers. */
void	 codec_format(double, char *buf, size_t len);

/*
 * Prints a document compactly with every number exact: the shortest
 * text that reads back as the same double (cJSON alone rounds to 15
 * digits).  Returns a string the caller frees with free(), or NULL.
 */
char	*codec_print(cJSON *);

#endif
