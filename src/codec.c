/* The JSON forms of the API: request decoding and validation. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "arrays.h"
#include "codec.h"
#include "loss.h"


static size_t	 max_elements = 16u << 20;
static size_t	 max_depth = 32;

static const char *const run_fields[] = { "losses", "params", "tags", NULL };
static const char *const batch_fields[] = { "id", "step", "split", NULL };
static const char *const scalar_fields[] = { "id", "step", "split",
    "values", NULL };

void
codec_set_limits(size_t elements, size_t depth)
{
	max_elements = elements;
	max_depth = depth;
}

void
codec_error_set(struct codec_error *err, int status, const char *code,
    const char *fmt, ...)
{
	va_list	 ap;

	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

static int
codec_invalid(struct codec_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets a 400 invalid_field error; returns -1 for the caller to return. */
static int
codec_invalid(struct codec_error *err, const char *fmt, ...)
{
	va_list	 ap;

	err->status = 400;
	snprintf(err->code, sizeof(err->code), "invalid_field");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* The length of the UTF-8 sequence at s and its code point, or 0 when
 * it is not valid (overlong, a surrogate, past U+10FFFF, cut short). */
static size_t
codec_utf8(const unsigned char *s, unsigned long *cp)
{
	size_t		 n, i;
	unsigned long	 c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, c &= 0x07, min = 0x10000;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

void
codec_clean_utf8(char *s)
{
	unsigned long	 cp;
	size_t		 n;

	while (*s != '\0') {
		if ((n = codec_utf8((const unsigned char *)s, &cp)) == 0) {
			*s++ = '?';
			continue;
		}
		s += n;
	}
}

int
codec_check_name(const char *s, const char *field, struct codec_error *err)
{
	size_t		 len = strlen(s), i, n;
	unsigned long	 cp;

	if (len == 0)
		return codec_invalid(err, "%s is empty", field);
	if (len > CODEC_NAME_MAX)
		return codec_invalid(err, "%s is %zu bytes long; the limit is"
		    " %d", field, len, CODEC_NAME_MAX);
	for (i = 0; i < len; i += n) {
		if ((n = codec_utf8((const unsigned char *)s + i, &cp)) == 0)
			return codec_invalid(err, "%s is not valid UTF-8 (at"
			    " byte %zu)", field, i);
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return codec_invalid(err, "%s has a control character"
			    " at byte %zu", field, i);
	}
	return 0;
}

/* The characters codec_depth() stops at: outside strings (bit 1) and
 * inside them (bit 2).  Digits, commas and the like, most of a batch,
 * cost one look-up each. */
static const unsigned char depth_stops[256] = {
	['\0'] = 3, ['"'] = 3, ['\\'] = 2,
	['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1,
};

/* The deepest nesting of arrays and objects in JSON text, found before
 * parsing so that a hostile body costs no more than one pass; SIZE_MAX
 * when the text holds a NUL, raw or escaped. */
static size_t
codec_depth(const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, depth = 0, deepest = 0;
	int			 in = 1;	/* 1 outside strings, 2 in */

	for (i = 0; i < len; i++) {
		while (i < len && (depth_stops[u[i]] & in) == 0)
			i++;
		if (i == len)
			break;
		/* A NUL would cut a C string short: a name or id that
		 * reads as another.  SIZE_MAX fails every depth check. */
		if (u[i] == '\0')
			return SIZE_MAX;
		if (in == 2) {
			if (u[i] == '\\' && i + 5 < len &&
			    memcmp(s + i + 1, "u0000", 5) == 0)
				return SIZE_MAX;
			if (u[i] == '\\')
				i++;
			else
				in = 1;		/* the closing quote */
		} else if (u[i] == '"')
			in = 2;
		else if (u[i] == '[' || u[i] == '{') {
			if (++depth > deepest)
				deepest = depth;
		} else if (depth > 0)
			depth--;
	}
	return deepest;
}

/* What the messages about a JSON text call it, unless it is a part. */
#define REQUEST_BODY	"the request body"

/* Refuses a body that nests too deep or holds a NUL character; what
 * names it in the message. */
static int
codec_depth_check(const char *body, size_t len, const char *what,
    struct codec_error *err)
{
	size_t	 depth = codec_depth(body, len);

	if (depth == SIZE_MAX) {
		codec_error_set(err, 400, "bad_json", "%s holds a NUL"
		    " character (raw or \\u0000), which no name or value may"
		    " contain", what);
		return -1;
	}
	if (depth > max_depth) {
		codec_error_set(err, 400, "bad_json", "%s nests deeper than"
		    " %zu levels (max_json_depth)", what, max_depth);
		return -1;
	}
	return 0;
}

/* Parses a body that must be one JSON object, named what in the
 * messages; the caller deletes it. */
static int
codec_parse(const char *body, size_t len, const char *what, cJSON **root,
    struct codec_error *err)
{
	const char	*end = NULL;

	if (len == 0) {
		codec_error_set(err, 400, "bad_json", "%s is empty; a JSON"
		    " object is expected", what);
		return -1;
	}
	if (codec_depth_check(body, len, what, err) == -1)
		return -1;
	/* The end pointer, unlike cJSON_GetErrorPtr(), is per call. */
	*root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	while (*root != NULL && end < body + len && (*end == ' ' ||
	    *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (*root != NULL && end != body + len) {
		cJSON_Delete(*root);
		*root = NULL;
	}
	if (*root == NULL) {
		size_t	 off = end && end >= body && end <= body + len ?
			    (size_t)(end - body) : len;

		codec_error_set(err, 400, "bad_json", "%s is not valid JSON"
		    " (error near byte %zu)", what, off);
		return -1;
	}
	if (!cJSON_IsObject(*root)) {
		cJSON_Delete(*root);
		*root = NULL;
		codec_error_set(err, 400, "bad_json", "%s must be a JSON"
		    " object", what);
		return -1;
	}
	return 0;
}

static int
codec_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Rejects an object with a key given twice: JSON parsers disagree on
 * which one wins, so the request would mean different things. */
static int
codec_unique_keys(const cJSON *obj, const char *where,
    struct codec_error *err)
{
	const cJSON	 *it;
	const char	**keys;
	size_t		  n = 0, i;
	int		  rc = 0;

	/* Sorted, so that a body of many keys costs n log n, not n^2. */
	if ((keys = malloc(((size_t)cJSON_GetArraySize(obj) + 1) *
	    sizeof(*keys))) == NULL) {
		codec_error_set(err, 413, "too_large", "%s has too many keys",
		    *where ? where : "the body");
		return -1;
	}
	cJSON_ArrayForEach(it, obj)
		keys[n++] = it->string;
	qsort(keys, n, sizeof(*keys), codec_key_cmp);
	for (i = 1; i < n && rc == 0; i++)
		if (strcmp(keys[i - 1], keys[i]) == 0)
			rc = codec_invalid(err, "%s%s%.64s is given twice",
			    where, *where ? "." : "", keys[i]);
	free(keys);
	return rc;
}

/* Rejects keys of obj that are not in allowed; where names obj. */
static int
codec_known_fields(const cJSON *obj, const char *const *allowed,
    const char *where, struct codec_error *err)
{
	const cJSON	*it;
	size_t		 i;

	if (codec_unique_keys(obj, where, err) == -1)
		return -1;
	cJSON_ArrayForEach(it, obj) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(it->string, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return codec_invalid(err, "%s%s%s: unknown field",
			    where, *where ? "." : "", it->string);
	}
	return 0;
}

/* Reads a number, or one of the strings JSON has instead of NaN and
 * the infinities. */
static int
codec_double(const cJSON *it, const char *path, double *out,
    struct codec_error *err)
{
	const char	*s;

	if (cJSON_IsNumber(it)) {
		*out = it->valuedouble;
		return 0;
	}
	if (cJSON_IsString(it)) {
		s = it->valuestring;
		if (strcmp(s, "NaN") == 0) {
			*out = NAN;
			return 0;
		}
		if (strcmp(s, "Infinity") == 0) {
			*out = INFINITY;
			return 0;
		}
		if (strcmp(s, "-Infinity") == 0) {
			*out = -INFINITY;
			return 0;
		}
	}
	return codec_invalid(err, "%s is not a number (numbers, or the"
	    " strings \"NaN\", \"Infinity\", \"-Infinity\")", path);
}

/* A finite number; field names it. */
static int
codec_finite(const cJSON *it, const char *path, double *out,
    struct codec_error *err)
{
	if (!cJSON_IsNumber(it))
		return codec_invalid(err, "%s must be a number", path);
	if (!isfinite(it->valuedouble))
		return codec_invalid(err, "%s must be finite", path);
	*out = it->valuedouble;
	return 0;
}

/*
 * The text of the value of a top-level key of a JSON object that cJSON
 * has already accepted, or NULL when the key is not written plainly.
 * cJSON keeps only the double, which cannot tell 2^52 + 0.5 from 2^52.
 */
static const char *
codec_raw_value(const char *s, size_t len, const char *key, size_t *toklen)
{
	size_t	 i, j, start, depth = 0, klen = strlen(key);
	int	 want_key = 0, escaped;

	for (i = 0; i < len; i++) {
		if (s[i] == '{' || s[i] == '[') {
			want_key = ++depth == 1 && s[i] == '{';
		} else if (s[i] == '}' || s[i] == ']') {
			depth--;
		} else if (s[i] == ',' && depth == 1) {
			want_key = 1;
		} else if (s[i] == '"') {
			start = ++i;
			for (escaped = 0; i < len && s[i] != '"'; i++)
				if (s[i] == '\\') {
					escaped = 1;
					i++;
				}
			if (!want_key || depth != 1)
				continue;
			want_key = 0;
			if (escaped || i - start != klen ||
			    memcmp(s + start, key, klen) != 0)
				continue;
			for (j = i + 1; j < len && s[j] != ':'; j++)
				;
			for (j++; j < len && strchr(" \t\r\n", s[j]); j++)
				;
			for (start = j; j < len && strchr("0123456789+-.eE",
			    s[j]) != NULL; j++)
				;
			*toklen = j - start;
			return s + start;
		}
	}
	return NULL;
}

/* The step of a body: an integer literal from 0 to 2^53-1, judged on
 * its text, since cJSON's double rounds and its valueint saturates. */
static int
codec_step(const cJSON *root, const char *body, size_t len, int64_t *step,
    struct codec_error *err)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(root, "step");
	const char	*raw;
	char		 text[24];
	size_t		 n;

	if (it == NULL) {
		codec_error_set(err, 400, "missing_field", "step is missing");
		return -1;
	}
	if (!cJSON_IsNumber(it) ||
	    (raw = codec_raw_value(body, len, "step", &n)) == NULL ||
	    n == 0 || n >= sizeof(text) || strspn(raw, "0123456789") < n ||
	    (n > 1 && raw[0] == '0'))
		return codec_invalid(err, "step must be an integer from 0 to"
		    " 2^53-1, written without sign, fraction or exponent");
	memcpy(text, raw, n);
	text[n] = '\0';
	return codec_step_text(text, "step", step, err);
}

int
codec_step_text(const char *s, const char *field, int64_t *out,
    struct codec_error *err)
{
	char		*end;
	long long	 v;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > (long long)CODEC_STEP_MAX)
		goto bad;
	*out = v;
	return 0;

bad:
	return codec_invalid(err, "%s must be an integer from 0 to 2^53-1",
	    field);
}

/* The optional id of a request, which makes a retry safe. */
static int
codec_id(const cJSON *root, char *id, struct codec_error *err)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(root, "id");

	id[0] = '\0';
	if (it == NULL)
		return 0;
	if (!cJSON_IsString(it))
		return codec_invalid(err, "id must be a string");
	if (codec_check_name(it->valuestring, "id", err) == -1)
		return -1;
	strcpy(id, it->valuestring);
	return 0;
}

static int
codec_split(const cJSON *root, char *split, struct codec_error *err)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(root, "split");

	if (it == NULL) {
		strcpy(split, "train");
		return 0;
	}
	if (!cJSON_IsString(it))
		return codec_invalid(err, "split must be a string");
	if (codec_check_name(it->valuestring, "split", err) == -1)
		return -1;
	strcpy(split, it->valuestring);
	return 0;
}


/* Rejects keys of a batch that are neither its own fields nor the
 * name of an input array of some loss type. */
static int
codec_batch_keys(const cJSON *root, struct codec_error *err)
{
	const cJSON	*it;
	enum loss_field	 f;
	size_t		 i;

	if (codec_unique_keys(root, "", err) == -1)
		return -1;
	cJSON_ArrayForEach(it, root) {
		for (i = 0; batch_fields[i] != NULL; i++)
			if (strcmp(it->string, batch_fields[i]) == 0)
				break;
		if (batch_fields[i] == NULL &&
		    loss_field_lookup(it->string, &f) == -1)
			return codec_invalid(err, "%s: unknown field",
			    it->string);
	}
	return 0;
}

/* Decodes the input arrays a batch has; predictions it must have.
 * Which others the run's losses need, the API checks. */
static int
codec_inputs(const cJSON *root, struct batch_req *req,
    struct codec_error *err)
{
	const cJSON	*it;
	const char	*name;
	int		 f;

	for (f = 0; f < LOSS_NFIELDS; f++) {
		name = loss_field_name((enum loss_field)f);
		/* Arrays were read before cJSON saw the body. */
		if (req->inputs.t[f] != NULL)
			continue;
		it = cJSON_GetObjectItemCaseSensitive(root, name);
		if (it == NULL && f == LOSS_PREDICTIONS) {
			codec_error_set(err, 400, "missing_field", "%s is"
			    " missing", name);
			return -1;
		}
		/* An array here had its key written with escapes. */
		if (cJSON_IsArray(it))
			return codec_invalid(err, "%s must be written as a"
			    " plain key, without escapes", name);
		if (it != NULL)
			return codec_invalid(err, "%s must be an array", name);
	}
	return 0;
}

/* The end of the JSON string that starts at s[i] == '"', or len. */
static size_t
codec_string_end(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i < len ? i + 1 : len;
}

/*
 * Reads the input arrays of a batch body (top-level keys that name a
 * loss input and hold an array) straight into req with arrays_json(),
 * and writes into skel the body with each of those arrays replaced by
 * 0, for cJSON to check the rest.  Whatever is not well-formed is left
 * in skel, where cJSON finds it.
 */
static int
codec_batch_arrays(const char *s, size_t len, struct batch_req *req,
    char *skel, size_t *skel_len, struct codec_error *err)
{
	struct codec_array	 a;
	enum loss_field		 f;
	size_t			 i, k, o = 0, depth = 0, used, klen;
	int			 want_key = 0;
	char			 key[40];

	for (i = 0; i < len; ) {
		if (s[i] == '"') {
			k = codec_string_end(s, len, i);
			klen = k - i - 2;
			memcpy(skel + o, s + i, k - i);
			o += k - i;
			if (!want_key || depth != 1 || k > len - 1 ||
			    klen >= sizeof(key)) {
				want_key = 0;
				i = k;
				continue;
			}
			want_key = 0;
			memcpy(key, s + i + 1, klen);
			key[klen] = '\0';
			for (i = k; i < len && strchr(" \t\r\n:", s[i]); i++)
				skel[o++] = s[i];
			if (i >= len || s[i] != '[' ||
			    loss_field_lookup(key, &f) == -1)
				continue;
			if (req->inputs.t[f] != NULL)
				return codec_invalid(err, "%s is given twice",
				    key);
			if (arrays_json(s + i, len - i, key, max_elements, &a,
			    &used, err) == -1)
				return -1;
			req->in[f] = a;
			req->inputs.t[f] = &req->in[f].t;
			skel[o++] = '0';
			i += used;
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			want_key = ++depth == 1 && s[i] == '{';
		else if (s[i] == '}' || s[i] == ']')
			depth--;
		else if (s[i] == ',' && depth == 1)
			want_key = 1;
		skel[o++] = s[i++];
	}
	*skel_len = o;
	return 0;
}

/* Decodes a JSON batch body, named what in the messages, into req,
 * which may hold input arrays from elsewhere already; frees req on
 * failure. */
static int
codec_batch_into(const char *body, size_t len, const char *what,
    struct batch_req *req, struct codec_error *err)
{
	cJSON	*root;
	char	*skel;
	size_t	 skel_len = 0;
	int	 rc = -1;

	if (codec_depth_check(body, len, what, err) == -1)
		return -1;
	/* The skeleton is never longer than the body. */
	if ((skel = malloc(len + 1)) == NULL) {
		codec_error_set(err, 413, "too_large", "out of memory");
		return -1;
	}
	if (codec_batch_arrays(body, len, req, skel, &skel_len, err) == -1 ||
	    codec_parse(skel, skel_len, what, &root, err) == -1) {
		free(skel);
		codec_batch_free(req);
		return -1;
	}
	if (codec_batch_keys(root, err) == -1 ||
	    codec_id(root, req->id, err) == -1 ||
	    codec_step(root, skel, skel_len, &req->step, err) == -1 ||
	    codec_split(root, req->split, err) == -1 ||
	    codec_inputs(root, req, err) == -1)
		goto out;
	rc = 0;

out:
	cJSON_Delete(root);
	free(skel);
	if (rc == -1)
		codec_batch_free(req);
	return rc;
}

int
codec_batch(const char *body, size_t len, struct batch_req *req,
    struct codec_error *err)
{
	memset(req, 0, sizeof(*req));
	return codec_batch_into(body, len, REQUEST_BODY, req, err);
}

int
codec_batch_parts(const struct codec_part *parts, size_t n,
    struct batch_req *req, struct codec_error *err)
{
	const struct codec_part	*meta = NULL;
	enum loss_field		 f;
	size_t			 i;

	memset(req, 0, sizeof(*req));
	for (i = 0; i < n; i++) {
		if (strcmp(parts[i].name, "batch") == 0) {
			if (meta != NULL)
				goto twice;
			meta = &parts[i];
			continue;
		}
		if (loss_field_lookup(parts[i].name, &f) == -1) {
			codec_invalid(err, "part \"%.40s\": unknown (parts:"
			    " batch, and the inputs as .npy files)",
			    parts[i].name);
			goto fail;
		}
		if (req->inputs.t[f] != NULL)
			goto twice;
		if (arrays_npy(parts[i].data, parts[i].len, parts[i].name,
		    max_elements, &req->in[f], err) == -1)
			goto fail;
		req->inputs.t[f] = &req->in[f].t;
	}
	if (meta == NULL) {
		codec_error_set(err, 400, "missing_field", "the part \"batch\""
		    " is missing (a JSON object with step, split and id)");
		goto fail;
	}
	if (meta->len == 0) {
		codec_invalid(err, "part \"batch\" is empty (a JSON object"
		    " with step, split and id)");
		goto fail;
	}
	return codec_batch_into((const char *)meta->data, meta->len,
	    "part \"batch\"", req, err);

twice:
	codec_invalid(err, "part \"%.40s\" is given twice", parts[i].name);
fail:
	codec_batch_free(req);
	return -1;
}

void
codec_batch_free(struct batch_req *req)
{
	int	 f;

	for (f = 0; f < LOSS_NFIELDS; f++) {
		free(req->in[f].data);
		req->in[f].data = NULL;
		req->inputs.t[f] = NULL;
	}
}

/* Reads the values of a scalars body into req. */
static int
codec_values(const cJSON *values, struct scalars_req *req,
    struct codec_error *err)
{
	const cJSON	*it;
	char		 path[CODEC_NAME_MAX + 16];
	size_t		 n;

	if (values == NULL) {
		codec_error_set(err, 400, "missing_field", "values is missing");
		return -1;
	}
	if (!cJSON_IsObject(values))
		return codec_invalid(err, "values must be an object of names"
		    " and numbers");
	if ((n = (size_t)cJSON_GetArraySize(values)) == 0)
		return codec_invalid(err, "values is empty");
	if (codec_unique_keys(values, "values", err) == -1)
		return -1;
	req->names = calloc(n, sizeof(*req->names));
	req->values = calloc(n, sizeof(*req->values));
	if (req->names == NULL || req->values == NULL) {
		codec_error_set(err, 413, "too_large", "values is too large");
		return -1;
	}
	cJSON_ArrayForEach(it, values) {
		snprintf(path, sizeof(path), "values.%.*s", CODEC_NAME_MAX,
		    it->string);
		if (codec_check_name(it->string, path, err) == -1)
			return -1;
		if (strcmp(it->string, "total") == 0)
			return codec_invalid(err, "values.total: \"total\" is"
			    " the name of the weighted total of the losses");
		if (codec_double(it, path, &req->values[req->n], err) == -1)
			return -1;
		if ((req->names[req->n++] = strdup(it->string)) == NULL) {
			codec_error_set(err, 413, "too_large", "out of"
			    " memory");
			return -1;
		}
	}
	return 0;
}

int
codec_scalars(const char *body, size_t len, struct scalars_req *req,
    struct codec_error *err)
{
	cJSON	*root;
	int	 rc = -1;

	memset(req, 0, sizeof(*req));
	if (codec_parse(body, len, REQUEST_BODY, &root, err) == -1)
		return -1;
	if (codec_known_fields(root, scalar_fields, "", err) == -1 ||
	    codec_id(root, req->id, err) == -1 ||
	    codec_step(root, body, len, &req->step, err) == -1 ||
	    codec_split(root, req->split, err) == -1 ||
	    codec_values(cJSON_GetObjectItemCaseSensitive(root, "values"),
	    req, err) == -1)
		goto out;
	rc = 0;

out:
	cJSON_Delete(root);
	if (rc == -1)
		codec_scalars_free(req);
	return rc;
}

void
codec_scalars_free(struct scalars_req *req)
{
	size_t	 i;

	for (i = 0; i < req->n; i++)
		free(req->names[i]);
	free(req->names);
	free(req->values);
	memset(req, 0, sizeof(*req));
}

/*
 * Reads a list parameter of a term into *cursor, which advances past
 * it, and points the spec at it.  Every entry is checked like a number
 * of the parameter; the list must not be empty.
 */
static int
codec_param_list(const cJSON *it, const char *path, size_t i,
    struct loss_spec *spec, double **cursor, struct codec_error *err)
{
	const cJSON	*v;
	char		 where[96], why[128];
	double		*out = *cursor;
	size_t		 n = 0;

	if (cJSON_GetArraySize(it) == 0)
		return codec_invalid(err, "%s must list at least one value",
		    path);
	cJSON_ArrayForEach(v, it) {
		snprintf(where, sizeof(where), "%s[%zu]", path, n);
		if (codec_finite(v, where, &out[n], err) == -1)
			return -1;
		if (loss_param_check(spec->type, i, out[n], why,
		    sizeof(why)) == -1)
			return codec_invalid(err, "%s %s", where, why);
		n++;
	}
	spec->list = out;
	spec->nlist = n;
	*cursor += n;
	return 0;
}

/* Reads the value of the i-th parameter of a term. */
static int
codec_param(const cJSON *it, const char *path, size_t i,
    struct loss_spec *spec, double **cursor, struct codec_error *err)
{
	const struct loss_param	*p = loss_param_info(spec->type, i);
	char			 why[160];
	size_t			 w;

	switch (p->kind) {
	case LOSS_PARAM_BOOLEAN:
		if (!cJSON_IsBool(it))
			return codec_invalid(err, "%s must be true or false",
			    path);
		spec->params[i] = cJSON_IsTrue(it) ? 1.0 : 0.0;
		return 0;
	case LOSS_PARAM_WORD:
		for (w = 0; p->words[w] != NULL; w++)
			if (cJSON_IsString(it) &&
			    strcmp(it->valuestring, p->words[w]) == 0)
				break;
		spec->params[i] = (double)w;
		break;
	case LOSS_PARAM_LIST:
		if (cJSON_IsNull(it))
			return 0;
		if (!cJSON_IsArray(it))
			return codec_invalid(err, "%s must be a list of numbers"
			    " (or null for none)", path);
		return codec_param_list(it, path, i, spec, cursor, err);
	case LOSS_PARAM_NUMBER_OR_LIST:
		if (cJSON_IsArray(it))
			return codec_param_list(it, path, i, spec, cursor,
			    err);
		/* FALLTHROUGH */
	default:
		if (codec_finite(it, path, &spec->params[i], err) == -1)
			return -1;
		break;
	}
	if (loss_param_check(spec->type, i, spec->params[i], why,
	    sizeof(why)) == -1)
		return codec_invalid(err, "%s %s", path, why);
	return 0;
}

/* Reads the parameters of a term, every key of obj that is not type,
 * weight or name; list values go to *cursor. */
static int
codec_term_params(const cJSON *obj, size_t idx, struct loss_term *term,
    double **cursor, struct codec_error *err)
{
	enum loss_type	 type = term->spec.type;
	const cJSON	*it;
	char		 path[64];
	size_t		 i;

	cJSON_ArrayForEach(it, obj) {
		if (strcmp(it->string, "type") == 0 ||
		    strcmp(it->string, "weight") == 0 ||
		    strcmp(it->string, "name") == 0)
			continue;
		if (loss_param_lookup(type, it->string, &i) == -1)
			return codec_invalid(err, "losses[%zu].%.40s: unknown"
			    " parameter of %s", idx, it->string,
			    loss_type_name(type));
		snprintf(path, sizeof(path), "losses[%zu].%s", idx,
		    it->string);
		if (codec_param(it, path, i, &term->spec, cursor, err) == -1)
			return -1;
	}
	return 0;
}

/* Decodes one term of a losses array. */
static int
codec_term(const cJSON *obj, size_t idx, struct loss_term *term,
    double **cursor, struct codec_error *err)
{
	const cJSON	*type, *weight, *name;
	char		 path[64];
	enum loss_type	 t;

	if (!cJSON_IsObject(obj))
		return codec_invalid(err, "losses[%zu] must be an object",
		    idx);
	snprintf(path, sizeof(path), "losses[%zu]", idx);
	if (codec_unique_keys(obj, path, err) == -1)
		return -1;
	type = cJSON_GetObjectItemCaseSensitive(obj, "type");
	if (type == NULL) {
		codec_error_set(err, 400, "missing_field", "losses[%zu].type"
		    " is missing", idx);
		return -1;
	}
	if (!cJSON_IsString(type))
		return codec_invalid(err, "losses[%zu].type must be the name"
		    " of a loss type (GET /api/v1/losses lists them)", idx);
	if (loss_type_lookup(type->valuestring, &t) == -1)
		return codec_invalid(err, "losses[%zu].type is not a known"
		    " loss type: \"%.40s\" (GET /api/v1/losses lists them)",
		    idx, type->valuestring);
	loss_spec_default(&term->spec, t);

	term->weight = 1.0;
	weight = cJSON_GetObjectItemCaseSensitive(obj, "weight");
	snprintf(path, sizeof(path), "losses[%zu].weight", idx);
	/* PyTorch users may mean the per-class weight. */
	if (cJSON_IsArray(weight))
		return codec_invalid(err, "%s must be a number, the term's"
		    " weight in the total (PyTorch's per-class weight is the"
		    " parameter class_weight)", path);
	if (weight != NULL && codec_finite(weight, path, &term->weight,
	    err) == -1)
		return -1;

	name = cJSON_GetObjectItemCaseSensitive(obj, "name");
	snprintf(path, sizeof(path), "losses[%zu].name", idx);
	if (name == NULL)
		snprintf(term->name, sizeof(term->name), "%s",
		    loss_type_name(t));
	else if (!cJSON_IsString(name))
		return codec_invalid(err, "%s must be a string", path);
	else if (codec_check_name(name->valuestring, path, err) == -1)
		return -1;
	else
		snprintf(term->name, sizeof(term->name), "%s",
		    name->valuestring);
	if (strcmp(term->name, "total") == 0)
		return codec_invalid(err, "%s: \"total\" is the name of the"
		    " weighted total", path);

	return codec_term_params(obj, idx, term, cursor, err);
}

/* The per-class list of a term, NULL when it has none. */
static const struct loss_param *
codec_class_list(const struct loss_term *t)
{
	const struct loss_param	*p;
	size_t			 i;

	for (i = 0; t->spec.list != NULL && i < loss_nparams(t->spec.type);
	    i++) {
		p = loss_param_info(t->spec.type, i);
		if (p->flags & LOSS_PER_CLASS)
			return p;
	}
	return NULL;
}

/*
 * Checks that the per-class lists of the terms (class_weight, focal's
 * alpha) have one length: the terms share the predictions, so they
 * share the number of classes, which only a batch tells.
 */
static int
codec_class_lists(const struct loss_term *terms, size_t n,
    struct codec_error *err)
{
	const struct loss_param	*p, *first = NULL;
	size_t			 i, at = 0;

	for (i = 0; i < n; i++) {
		if ((p = codec_class_list(&terms[i])) == NULL)
			continue;
		if (first == NULL) {
			first = p;
			at = i;
		} else if (terms[i].spec.nlist != terms[at].spec.nlist)
			return codec_invalid(err, "losses[%zu].%s has %zu values"
			    " but losses[%zu].%s has %zu: both have one value per"
			    " class of the predictions", i, p->name,
			    terms[i].spec.nlist, at, first->name,
			    terms[at].spec.nlist);
	}
	return 0;
}

/* The number of values in the arrays of the terms of arr, an upper
 * bound of what their list parameters hold. */
static size_t
codec_list_values(const cJSON *arr)
{
	const cJSON	*term, *it;
	size_t		 n = 0;

	cJSON_ArrayForEach(term, arr) {
		if (!cJSON_IsObject(term))
			continue;
		cJSON_ArrayForEach(it, term)
			if (cJSON_IsArray(it))
				n += (size_t)cJSON_GetArraySize(it);
	}
	return n;
}

int
codec_terms(const cJSON *arr, const char *field, struct loss_term **out,
    size_t *nout, struct codec_error *err)
{
	struct loss_term	*terms;
	size_t			 n, i = 0, j, nlist;
	const cJSON		*it;
	double			*cursor;

	*out = NULL;
	*nout = 0;
	if (!cJSON_IsArray(arr))
		return codec_invalid(err, "%s must be an array of loss terms",
		    field);
	if ((n = (size_t)cJSON_GetArraySize(arr)) == 0)
		return codec_invalid(err, "%s must list at least one loss"
		    " term", field);
	if (n > CODEC_TERMS_MAX)
		return codec_invalid(err, "%s has %zu terms; the limit is %d",
		    field, n, CODEC_TERMS_MAX);
	if ((nlist = codec_list_values(arr)) > CODEC_LIST_MAX)
		return codec_invalid(err, "%s has lists of %zu values in all;"
		    " the limit is %d", field, nlist, CODEC_LIST_MAX);
	/* One block: the terms, then the values of their lists, so that
	 * free(terms) releases both. */
	if ((terms = calloc(1, n * sizeof(*terms) +
	    nlist * sizeof(double))) == NULL) {
		codec_error_set(err, 413, "too_large", "%s is too large",
		    field);
		return -1;
	}
	cursor = (double *)(terms + n);
	cJSON_ArrayForEach(it, arr) {
		if (codec_term(it, i, &terms[i], &cursor, err) == -1)
			goto fail;
		for (j = 0; j < i; j++)
			if (strcmp(terms[j].name, terms[i].name) == 0) {
				codec_invalid(err, "losses[%zu].name: \"%s\" is"
				    " already the name of losses[%zu]", i,
				    terms[i].name, j);
				goto fail;
			}
		i++;
	}
	if (codec_class_lists(terms, n, err) == -1)
		goto fail;
	*out = terms;
	*nout = n;
	return 0;

fail:
	free(terms);
	return -1;
}

/* Whether s is valid UTF-8 (control characters allowed). */
static int
codec_utf8_valid(const char *s)
{
	unsigned long	 cp;
	size_t		 n;

	for (; *s != '\0'; s += n)
		if ((n = codec_utf8((const unsigned char *)s, &cp)) == 0)
			return 0;
	return 1;
}

/* Checks free-form JSON a client keeps with a run (params, tags): every
 * key and string valid UTF-8, no key twice in an object. */
static int
codec_free_json(const cJSON *it, const char *path, struct codec_error *err)
{
	const cJSON	*c;

	if (cJSON_IsString(it) && !codec_utf8_valid(it->valuestring))
		return codec_invalid(err, "%s is not valid UTF-8", path);
	if (cJSON_IsObject(it) && codec_unique_keys(it, path, err) == -1)
		return -1;
	cJSON_ArrayForEach(c, it) {
		if (c->string != NULL && !codec_utf8_valid(c->string))
			return codec_invalid(err, "%s has a key that is not"
			    " valid UTF-8", path);
		if (codec_free_json(c, path, err) == -1)
			return -1;
	}
	return 0;
}

/* The compact text of an optional JSON object field, "{}" if absent. */
static int
codec_object_text(const cJSON *root, const char *field, char **out,
    struct codec_error *err)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(root, field);

	if (it != NULL && !cJSON_IsObject(it))
		return codec_invalid(err, "%s must be a JSON object", field);
	if (it != NULL && codec_free_json(it, field, err) == -1)
		return -1;
	*out = it ? codec_print((cJSON *)it) : strdup("{}");
	if (*out == NULL) {
		codec_error_set(err, 413, "too_large", "%s is too large",
		    field);
		return -1;
	}
	return 0;
}

int
codec_run_spec(const char *body, size_t len, struct run_spec *spec,
    struct codec_error *err)
{
	cJSON		*root = NULL;
	const cJSON	*losses;
	int		 rc = -1;

	memset(spec, 0, sizeof(*spec));
	/* A PUT without a body creates the run with the defaults. */
	if (len == 0)
		root = cJSON_CreateObject();
	else if (codec_parse(body, len, REQUEST_BODY, &root, err) == -1)
		return -1;
	if (root == NULL || codec_known_fields(root, run_fields, "",
	    err) == -1)
		goto out;
	losses = cJSON_GetObjectItemCaseSensitive(root, "losses");
	if (losses != NULL && codec_terms(losses, "losses", &spec->terms,
	    &spec->nterms, err) == -1)
		goto out;
	if (codec_object_text(root, "params", &spec->params, err) == -1 ||
	    codec_object_text(root, "tags", &spec->tags, err) == -1)
		goto out;
	rc = 0;

out:
	cJSON_Delete(root);
	if (rc == -1)
		codec_run_spec_free(spec);
	return rc;
}

void
codec_run_spec_free(struct run_spec *spec)
{
	free(spec->terms);
	cJSON_free(spec->params);
	cJSON_free(spec->tags);
	memset(spec, 0, sizeof(*spec));
}

cJSON *
codec_number(double v)
{
	if (isnan(v))
		return cJSON_CreateString("NaN");
	if (isinf(v))
		return cJSON_CreateString(v > 0 ? "Infinity" : "-Infinity");
	return cJSON_CreateNumber(v);
}

static const char *const param_kinds[] = {
	[LOSS_PARAM_NUMBER] = "number",
	[LOSS_PARAM_BOOLEAN] = "boolean",
	[LOSS_PARAM_WORD] = "word",
	[LOSS_PARAM_LIST] = "list",
	[LOSS_PARAM_NUMBER_OR_LIST] = "number or list",
};

/* What values of a number (or of a list's entries) are allowed, in
 * words: "in [0, 1]", "> 0", ">= 0", "any", with ", integer". */
static void
codec_param_allowed(const struct loss_param *p, char *buf, size_t len)
{
	char	 lo[32], hi[32];
	int	 lopen = (p->flags & LOSS_MIN_OPEN) != 0;
	int	 hopen = (p->flags & LOSS_MAX_OPEN) != 0;

	codec_format(p->min, lo, sizeof(lo));
	codec_format(p->max, hi, sizeof(hi));
	if (p->flags & LOSS_INTEGER)
		snprintf(buf, len, "an integer");
	else if (isfinite(p->min) && isfinite(p->max))
		snprintf(buf, len, "in %c%s, %s%c", lopen ? '(' : '[', lo, hi,
		    hopen ? ')' : ']');
	else if (isfinite(p->min))
		snprintf(buf, len, "%s %s", lopen ? ">" : ">=", lo);
	else if (isfinite(p->max))
		snprintf(buf, len, "%s %s", hopen ? "<" : "<=", hi);
	else
		snprintf(buf, len, "any number");
}

/* The catalogue entry of one parameter. */
static cJSON *
codec_param_doc(const struct loss_param *p)
{
	cJSON	*o = cJSON_CreateObject(), *words;
	char	 allowed[96], num[64];
	size_t	 i;

	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddStringToObject(o, "kind", param_kinds[p->kind]);
	switch (p->kind) {
	case LOSS_PARAM_BOOLEAN:
		cJSON_AddBoolToObject(o, "default", p->def != 0.0);
		cJSON_AddStringToObject(o, "allowed", "true or false");
		break;
	case LOSS_PARAM_WORD:
		cJSON_AddStringToObject(o, "default",
		    p->words[(size_t)p->def]);
		words = cJSON_AddArrayToObject(o, "allowed");
		for (i = 0; p->words[i] != NULL; i++)
			cJSON_AddItemToArray(words,
			    cJSON_CreateString(p->words[i]));
		break;
	case LOSS_PARAM_LIST:
		cJSON_AddNullToObject(o, "default");
		codec_format(p->min, num, sizeof(num));
		snprintf(allowed, sizeof(allowed), "a list of numbers >= %s",
		    num);
		cJSON_AddStringToObject(o, "allowed", allowed);
		break;
	default:
		cJSON_AddNumberToObject(o, "default", p->def);
		codec_param_allowed(p, allowed, sizeof(allowed));
		if (p->kind == LOSS_PARAM_NUMBER_OR_LIST)
			strncat(allowed, ", or a list of such numbers",
			    sizeof(allowed) - strlen(allowed) - 1);
		cJSON_AddStringToObject(o, "allowed", allowed);
		break;
	}
	cJSON_AddBoolToObject(o, "option", (p->flags & LOSS_OPTION) != 0);
	cJSON_AddStringToObject(o, "doc", p->doc);
	return o;
}

/* The catalogue entry of one loss type. */
static cJSON *
codec_loss_doc(enum loss_type t)
{
	const struct loss_input	*in;
	cJSON			*o = cJSON_CreateObject(), *arr, *e;
	size_t			 i;

	cJSON_AddStringToObject(o, "type", loss_type_name(t));
	arr = cJSON_AddArrayToObject(o, "inputs");
	for (i = 0; (in = loss_input_info(t, i)) != NULL; i++) {
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "field",
		    loss_field_name(in->field));
		cJSON_AddStringToObject(e, "shape", in->shape);
		cJSON_AddBoolToObject(e, "required", !in->optional);
		cJSON_AddItemToArray(arr, e);
	}
	arr = cJSON_AddArrayToObject(o, "params");
	for (i = 0; i < loss_nparams(t); i++)
		cJSON_AddItemToArray(arr, codec_param_doc(
		    loss_param_info(t, i)));
	cJSON_AddStringToObject(o, "formula", loss_type_formula(t));
	return o;
}

cJSON *
codec_losses_json(void)
{
	cJSON	*doc = cJSON_CreateObject(), *arr;
	int	 t;

	arr = cJSON_AddArrayToObject(doc, "losses");
	for (t = 0; t < LOSS_NTYPES; t++)
		cJSON_AddItemToArray(arr, codec_loss_doc(t));
	/* A failed allocation leaves an entry out: answer nothing rather
	 * than an incomplete catalogue. */
	if (arr == NULL || cJSON_GetArraySize(arr) != LOSS_NTYPES) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

/* Adds the value of the i-th parameter of a spec to o, unless it is
 * an option at its default. */
static void
codec_param_json(cJSON *o, const struct loss_spec *spec, size_t i)
{
	const struct loss_param	*p = loss_param_info(spec->type, i);
	double			 v = spec->params[i];

	if ((p->kind == LOSS_PARAM_LIST ||
	    p->kind == LOSS_PARAM_NUMBER_OR_LIST) && spec->list != NULL) {
		cJSON_AddItemToObject(o, p->name, cJSON_CreateDoubleArray(
		    spec->list, (int)spec->nlist));
		return;
	}
	if (p->kind == LOSS_PARAM_LIST ||
	    ((p->flags & LOSS_OPTION) && v == p->def))
		return;
	if (p->kind == LOSS_PARAM_BOOLEAN)
		cJSON_AddBoolToObject(o, p->name, v != 0.0);
	else if (p->kind == LOSS_PARAM_WORD)
		cJSON_AddStringToObject(o, p->name, p->words[(size_t)v]);
	else
		cJSON_AddNumberToObject(o, p->name, v);
}

/* The JSON object of one term: every parameter written out, but for
 * options (switches) at their default, so that runs kept before an
 * option existed still compare equal. */
static cJSON *
codec_term_json(const struct loss_term *t)
{
	cJSON	*o = cJSON_CreateObject();
	size_t	 i;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddStringToObject(o, "type", loss_type_name(t->spec.type));
	cJSON_AddNumberToObject(o, "weight", t->weight);
	for (i = 0; i < loss_nparams(t->spec.type); i++)
		codec_param_json(o, &t->spec, i);
	return o;
}

char *
codec_terms_json(const struct loss_term *terms, size_t n)
{
	cJSON	*arr = cJSON_CreateArray(), *o;
	char	*text = NULL;
	size_t	 i;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((o = codec_term_json(&terms[i])) == NULL)
			goto out;
		cJSON_AddItemToArray(arr, o);
	}
	text = codec_print(arr);

out:
	cJSON_Delete(arr);
	return text;
}

void
codec_format(double v, char *buf, size_t len)
{
	int	 prec;

	/* Whole numbers such as steps print as integers, not 9.0e+15. */
	if (floor(v) == v && fabs(v) <= CODEC_STEP_MAX) {
		snprintf(buf, len, "%.0f", v);
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, len, "%.17g", v);
}

/* Turns every number below it into raw text that is exact. */
static int
codec_exact(cJSON *it)
{
	char	 num[32], *raw;

	for (; it != NULL; it = it->next) {
		if (cJSON_IsNumber(it)) {
			if (!isfinite(it->valuedouble))
				snprintf(num, sizeof(num), "\"%s\"",
				    isnan(it->valuedouble) ? "NaN" :
				    it->valuedouble > 0 ? "Infinity" :
				    "-Infinity");
			else
				codec_format(it->valuedouble, num,
				    sizeof(num));
			if ((raw = strdup(num)) == NULL)
				return -1;
			it->type = cJSON_Raw;
			it->valuestring = raw;
		} else if (codec_exact(it->child) == -1)
			return -1;
	}
	return 0;
}

char *
codec_print(cJSON *doc)
{
	cJSON	*next;

	if (doc == NULL)
		return NULL;
	/* Only this node and its children: not its siblings. */
	next = doc->next;
	doc->next = NULL;
	if (cJSON_IsNumber(doc) || doc->child != NULL)
		codec_exact(cJSON_IsNumber(doc) ? doc : doc->child);
	doc->next = next;
	return cJSON_PrintUnformatted(doc);
}
