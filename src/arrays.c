/* Input arrays: nested JSON numbers and NumPy files, into doubles. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays.h"
#include "codec.h"
#include "loss.h"

/* .npy data is read as this machine's own numbers. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "arrays.c reads little-endian .npy data natively: port it first"
#endif

#define PATH_LEN	96		/* "predictions[12][3]" and the like */

/* The state of one JSON array being read. */
struct reader {
	const char		*s;
	size_t			 len, i;
	const char		*field;
	size_t			 max;
	struct codec_array	*a;
	size_t			 cap;		/* doubles a->data can hold */
	int			 ndim;		/* 0 until known */
	int			 known[LOSS_MAX_DIMS];	/* shape[d] is set */
	/* Where the reader is: the index at each depth it is in, written
	 * out as "predictions[3][1]" only for an error message. */
	size_t			 at[LOSS_MAX_DIMS];
	int			 depth;
	struct codec_error	*err;
};

static int	 arrays_fail(struct reader *, int, const char *, const char *,
		    ...) __attribute__((format(printf, 4, 5)));

/* Sets an error about the element at the current path; returns -1. */
static int
arrays_fail(struct reader *r, int status, const char *code,
    const char *fmt, ...)
{
	char	 msg[200], path[PATH_LEN];
	size_t	 o;
	int	 d, w;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = (size_t)snprintf(path, sizeof(path), "%s", r->field);
	for (d = 0; d < r->depth && o < sizeof(path); d++) {
		w = snprintf(path + o, sizeof(path) - o, "[%zu]", r->at[d]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	codec_error_set(r->err, status, code, "%s %s", path, msg);
	return -1;
}

static void
arrays_ws(struct reader *r)
{
	while (r->i < r->len && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
	    r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

static int
arrays_digit(const struct reader *r, size_t j)
{
	return j < r->len && r->s[j] >= '0' && r->s[j] <= '9';
}

/*
 * Eight characters at a time: the digits of a number written by a
 * training job are most of its bytes.  The bytes are read as one
 * little-endian word (the .npy reader requires that order already).
 */
static uint64_t
arrays_word(const char *p)
{
	uint64_t	 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Whether the eight bytes of v are all ASCII digits: each high nibble
 * is 3, and adding 6 to the low one does not carry into it. */
static int
arrays_digits8(uint64_t v)
{
	uint64_t	 hi = v & 0xf0f0f0f0f0f0f0f0ULL;
	uint64_t	 carry = (v + 0x0606060606060606ULL) &
			    0xf0f0f0f0f0f0f0f0ULL;

	return (hi | carry >> 4) == 0x3333333333333333ULL;
}

/* The value of eight ASCII digits, the first the most significant:
 * pairs, then fours, then the eight, each step one multiplication. */
static uint64_t
arrays_value8(uint64_t v)
{
	v -= 0x3030303030303030ULL;
	v = v * 10 + (v >> 8);		/* pairs in bytes 0, 2, 4, 6 */
	v = ((v & 0x000000ff000000ffULL) * (100 + (1000000ULL << 32)) +
	    ((v >> 16) & 0x000000ff000000ffULL) * (1 + (10000ULL << 32)))
	    >> 32;
	return v;
}

/* The first index from j on that is not a digit. */
static size_t
arrays_digits_end(const struct reader *r, size_t j)
{
	while (j + 8 <= r->len && arrays_digits8(arrays_word(r->s + j)))
		j += 8;
	while (arrays_digit(r, j))
		j++;
	return j;
}

/* The end of the JSON number at s[i], or i when there is none there. */
static size_t
arrays_number_end(const struct reader *r, size_t i)
{
	size_t	 j = i;

	if (j < r->len && r->s[j] == '-')
		j++;
	if (!arrays_digit(r, j))
		return i;
	if (r->s[j++] != '0')
		j = arrays_digits_end(r, j);
	if (j < r->len && r->s[j] == '.') {
		if (!arrays_digit(r, ++j))
			return i;
		j = arrays_digits_end(r, j);
	}
	if (j < r->len && (r->s[j] == 'e' || r->s[j] == 'E')) {
		j++;
		if (j < r->len && (r->s[j] == '+' || r->s[j] == '-'))
			j++;
		if (!arrays_digit(r, j))
			return i;
		while (arrays_digit(r, j))
			j++;
	}
	return j;
}

#ifdef __SIZEOF_INT128__
/*
 * Decimal to binary without strtod when the number's digits allow an
 * exact integer computation: w * 10^q with w below 10^19 and |q| at
 * most 27, so that 5^|q| fits in 64 bits.  That covers what training
 * jobs write (Python's repr of a float has at most 17 digits) at a
 * fraction of strtod's cost, and gives the same, correctly rounded,
 * double.  Anything else goes to strtod.
 */
typedef unsigned __int128	u128;

#define POW5_MAX	27
#define DIGITS_MAX	19
#define W1_MAX		1000000000000000000ULL	/* 10^(DIGITS_MAX - 1) */
#define W8_MAX		100000000000ULL		/* 10^(DIGITS_MAX - 8) */

static const uint64_t pow5[POW5_MAX + 1] = {
	1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL,
	390625ULL, 1953125ULL, 9765625ULL, 48828125ULL, 244140625ULL,
	1220703125ULL, 6103515625ULL, 30517578125ULL, 152587890625ULL,
	762939453125ULL, 3814697265625ULL, 19073486328125ULL,
	95367431640625ULL, 476837158203125ULL, 2384185791015625ULL,
	11920928955078125ULL, 59604644775390625ULL, 298023223876953125ULL,
	1490116119384765625ULL, 7450580596923828125ULL
};

/* The powers of ten that doubles hold exactly. */
static const double exact10[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static int
arrays_bits(u128 v)
{
	uint64_t	 hi = (uint64_t)(v >> 64);

	if (hi != 0)
		return 128 - __builtin_clzll(hi);
	return v == 0 ? 0 : 64 - __builtin_clzll((uint64_t)v);
}

/* 2^e for e in the exponents of normal doubles, made from its bits. */
static double
arrays_pow2(int e)
{
	uint64_t	 bits = (uint64_t)(e + 1023) << 52;
	double		 d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/*
 * v * 2^e rounded to 53 bits, ties to even.  inexact says that the
 * true value lies a little above v (a remainder was cut off below its
 * last bit), which decides the ties.  The callers keep the result far
 * inside the normal range of doubles.
 */
static double
arrays_round(u128 v, int inexact, int e)
{
	int		 shift = arrays_bits(v) - 53;
	uint64_t	 m;
	u128		 rest, half;

	if (shift <= 0)
		return (double)(uint64_t)v * arrays_pow2(e);
	m = (uint64_t)(v >> shift);
	rest = v & ((((u128)1) << shift) - 1);
	half = ((u128)1) << (shift - 1);
	if (rest > half || (rest == half && (inexact || (m & 1))))
		m++;
	return (double)m * arrays_pow2(shift + e);
}

/* Sets *v to the JSON number s[0..n) and returns 0, or returns -1 when
 * it is not in the exact range and strtod must read it. */
static int
arrays_decimal(const char *s, size_t n, double *v)
{
	uint64_t	 w = 0;
	u128		 big, q5;
	long		 q = 0, e = 0;
	size_t		 i = 0;
	int		 neg = 0, eneg = 0, fraction = 0, shift;

	if (s[i] == '-')
		neg = 1, i++;
	while (i < n && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9'))) {
		if (s[i] == '.') {
			fraction = 1;
			i++;
			continue;
		}
		/* w stays below 10^19: at most DIGITS_MAX digits after
		 * the leading zeros, which add nothing to it. */
		if (i + 8 <= n && w < W8_MAX &&
		    arrays_digits8(arrays_word(s + i))) {
			w = w * 100000000 + arrays_value8(arrays_word(s + i));
			q -= 8 * fraction;
			i += 8;
			continue;
		}
		if (w >= W1_MAX)
			return -1;
		w = w * 10 + (uint64_t)(s[i] - '0');
		q -= fraction;
		i++;
	}
	if (i < n) {		/* 'e' or 'E', and digits after a sign */
		if (s[++i] == '-' || s[i] == '+')
			eneg = s[i++] == '-';
		for (; i < n; i++)
			if ((e = e * 10 + (s[i] - '0')) > 100000)
				return -1;
	}
	q += eneg ? -e : e;
	if (w == 0) {
		*v = neg ? -0.0 : 0.0;
		return 0;
	}
	if (q > POW5_MAX || q < -POW5_MAX)
		return -1;
	if (w <= (1ULL << 53) && q >= -22 && q <= 22) {
		/* Both w and 10^|q| are exact doubles, and one IEEE
		 * multiplication or division rounds correctly. */
		*v = q < 0 ? (double)w / exact10[-q] : (double)w * exact10[q];
	} else if (q >= 0) {
		/* w * 5^q * 2^q, the product exact in 128 bits */
		*v = arrays_round((u128)w * pow5[q], 0, (int)q);
	} else {
		/* w / (5^-q * 2^-q): w shifted up to 127 bits leaves a
		 * quotient of 64 bits or more, and the remainder tells
		 * whether it was exact. */
		shift = 127 - arrays_bits(w);
		big = (u128)w << shift;
		q5 = big / pow5[-q];
		*v = arrays_round(q5, big - q5 * pow5[-q] != 0,
		    (int)q - shift);
	}
	if (neg)
		*v = -*v;
	return 0;
}
#else
static int
arrays_decimal(const char *s, size_t n, double *v)
{
	(void)s, (void)n, (void)v;
	return -1;
}
#endif

/* Whether s[i] starts a JSON value that is not a number or an array:
 * a string, an object, true, false or null.  Such a value is the wrong
 * kind of element; anything else is not JSON at all. */
static int
arrays_json_value(const struct reader *r)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t	 i = r->i, k;

	if (i >= r->len)
		return 0;
	if (r->s[i] == '{')
		return 1;
	if (r->s[i] == '"') {
		for (i++; i < r->len && r->s[i] != '"'; i++)
			if (r->s[i] == '\\')
				i++;
		return i < r->len;
	}
	for (k = 0; k < 3; k++)
		if (r->len - i >= strlen(words[k]) &&
		    memcmp(r->s + i, words[k], strlen(words[k])) == 0)
			return 1;
	return 0;
}

/* Reads one number, or one of the strings that stand for NaN and the
 * infinities, into *v. */
static int
arrays_value(struct reader *r, double *v)
{
	static const struct { const char *text; double v; } words[] = {
		{ "\"NaN\"", NAN },
		{ "\"Infinity\"", INFINITY },
		{ "\"-Infinity\"", -INFINITY },
	};
	char	 buf[64], *copy;
	size_t	 end, n, k;

	for (k = 0; r->i < r->len && r->s[r->i] == '"' &&
	    k < sizeof(words) / sizeof(words[0]); k++) {
		n = strlen(words[k].text);
		if (r->len - r->i >= n && memcmp(r->s + r->i, words[k].text,
		    n) == 0) {
			*v = words[k].v;
			r->i += n;
			return 0;
		}
	}
	if ((end = arrays_number_end(r, r->i)) == r->i) {
		if (!arrays_json_value(r))
			return arrays_fail(r, 400, "bad_json", "is not valid"
			    " JSON");
		return arrays_fail(r, 400, "invalid_field", "is not a number"
		    " (numbers, or the strings \"NaN\", \"Infinity\","
		    " \"-Infinity\")");
	}
	n = end - r->i;
	if (arrays_decimal(r->s + r->i, n, v) == 0) {
		r->i = end;
		return 0;
	}
	/* strtod wants a terminated string, and the body is not one. */
	copy = n < sizeof(buf) ? buf : malloc(n + 1);
	if (copy == NULL)
		return arrays_fail(r, 413, "too_large", "is too long");
	memcpy(copy, r->s + r->i, n);
	copy[n] = '\0';
	*v = strtod(copy, NULL);
	if (copy != buf)
		free(copy);
	r->i = end;
	return 0;
}

static int
arrays_push(struct reader *r, double v)
{
	double	*p;
	size_t	 cap;

	if (r->a->t.n == r->max)
		return arrays_fail(r, 413, "too_large", "is past the limit of"
		    " %zu values in one array (max_batch_elements)", r->max);
	if (r->a->t.n == r->cap) {
		cap = r->cap ? r->cap * 2 : 1024;
		if ((p = realloc(r->a->data, cap * sizeof(*p))) == NULL)
			return arrays_fail(r, 413, "too_large", "does not fit"
			    " in memory");
		r->a->data = p;
		r->cap = cap;
	}
	r->a->data[r->a->t.n++] = v;
	return 0;
}

/* Checks the length of a closed array at depth d against its peers. */
static int
arrays_close(struct reader *r, int d, size_t count)
{
	struct tensor	*t = &r->a->t;

	if (!r->known[d]) {
		r->known[d] = 1;
		t->shape[d] = count;
		if (count == 0 && r->ndim == 0)
			r->ndim = d + 1;
		return 0;
	}
	if (t->shape[d] != count)
		return arrays_fail(r, 400, "invalid_field", "has %zu elements"
		    " but the first array at its depth has %zu (arrays must"
		    " not be ragged)", count, t->shape[d]);
	return 0;
}

/* Reads the array at s[i] == '[' at depth d. */
static int
arrays_level(struct reader *r, int d)
{
	size_t	 count = 0;
	double	 v = 0;

	if (d == LOSS_MAX_DIMS)
		return arrays_fail(r, 400, "invalid_field", "is nested deeper"
		    " than %d dimensions", LOSS_MAX_DIMS);
	r->i++;
	arrays_ws(r);
	if (r->i < r->len && r->s[r->i] == ']') {
		r->i++;
		return arrays_close(r, d, 0);
	}
	for (;;) {
		r->at[d] = count;
		r->depth = d + 1;
		arrays_ws(r);
		if (r->i < r->len && r->s[r->i] == '[') {
			if (r->ndim != 0 && d + 1 >= r->ndim)
				return arrays_fail(r, 400, "invalid_field",
				    "is an array but the first element at its"
				    " depth is a number");
			if (arrays_level(r, d + 1) == -1)
				return -1;
		} else {
			if (r->ndim == 0)
				r->ndim = d + 1;
			else if (r->ndim != d + 1)
				return arrays_fail(r, 400, "invalid_field",
				    "must be an array, like its siblings");
			if (arrays_value(r, &v) == -1 || arrays_push(r, v) ==
			    -1)
				return -1;
		}
		count++;
		arrays_ws(r);
		r->depth = d;
		if (r->i < r->len && r->s[r->i] == ',') {
			r->i++;
			continue;
		}
		if (r->i < r->len && r->s[r->i] == ']') {
			r->i++;
			return arrays_close(r, d, count);
		}
		return arrays_fail(r, 400, "bad_json", "is not valid JSON:"
		    " ',' or ']' expected after element %zu", count - 1);
	}
}

int
arrays_json(const char *s, size_t len, const char *field, size_t max,
    struct codec_array *a, size_t *used, struct codec_error *err)
{
	struct reader	 r;
	double		*p;

	memset(&r, 0, sizeof(r));
	memset(a, 0, sizeof(*a));
	r.s = s;
	r.len = len;
	r.field = field;
	r.max = max;
	r.a = a;
	r.err = err;
	if (arrays_level(&r, 0) == -1) {
		free(a->data);
		a->data = NULL;
		return -1;
	}
	a->t.ndim = r.ndim;
	/* Give back what doubling took beyond the need. */
	if (a->t.n > 0 && a->t.n < r.cap &&
	    (p = realloc(a->data, a->t.n * sizeof(*p))) != NULL)
		a->data = p;
	if (a->data == NULL && (a->data = malloc(sizeof(double))) == NULL) {
		codec_error_set(err, 413, "too_large", "out of memory");
		return -1;
	}
	a->t.data = a->data;
	*used = r.i;
	return 0;
}

/* Finds the value text after 'key': in an .npy header dictionary. */
static const char *
arrays_npy_key(const char *h, const char *key)
{
	const char	*p = strstr(h, key);

	if (p == NULL)
		return NULL;
	p += strlen(key);
	while (*p == ' ')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ')
		p++;
	return p;
}

/* The item size of a dtype the API takes, or 0. */
static size_t
arrays_npy_type(const char *descr, char *kind)
{
	static const char *const types[] = { "<f8", "<f4", "<i8", "<i4",
	    "<i2", "|i1", "<u8", "<u4", "<u2", "|u1", "|b1", NULL };
	size_t	 i;

	for (i = 0; types[i] != NULL; i++)
		if (strncmp(descr, types[i], 3) == 0 && descr[3] == '\'') {
			*kind = types[i][1];
			return (size_t)(types[i][2] - '0');
		}
	return 0;
}

/* Reads the shape tuple "(3, 4)" of an .npy header. */
static int
arrays_npy_shape(const char *p, struct tensor *t, size_t max)
{
	char		*end;
	unsigned long	 d;

	if (*p++ != '(')
		return -1;
	t->ndim = 0;
	t->n = 1;
	for (;;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == ')')
			return 0;
		if (*p < '0' || *p > '9' || t->ndim == LOSS_MAX_DIMS)
			return -1;
		d = strtoul(p, &end, 10);
		if (d != 0 && t->n > max / d)
			return -2;
		t->shape[t->ndim++] = d;
		t->n *= d;
		p = end;
	}
}

/* One loop per dtype, the type's test out of it: memcpy reads an item
 * wherever it lies, and compilers make it a plain load. */
#define NPY_CONVERT(type) do { \
	type	 x; \
	for (i = 0; i < n; i++, p += sizeof(x)) { \
		memcpy(&x, p, sizeof(x)); \
		out[i] = (double)x; \
	} \
} while (0)

/* Converts n items of a dtype ('f', 'i', or unsigned 'u' and 'b') to
 * doubles. */
static void
arrays_npy_convert(const unsigned char *p, char kind, size_t size,
    size_t n, double *out)
{
	size_t	 i;

	if (kind == 'f' && size == 8)
		memcpy(out, p, n * size);
	else if (kind == 'f')
		NPY_CONVERT(float);
	else if (kind == 'i' && size == 8)
		NPY_CONVERT(int64_t);
	else if (kind == 'i' && size == 4)
		NPY_CONVERT(int32_t);
	else if (kind == 'i' && size == 2)
		NPY_CONVERT(int16_t);
	else if (kind == 'i')
		NPY_CONVERT(int8_t);
	else if (size == 8)
		NPY_CONVERT(uint64_t);
	else if (size == 4)
		NPY_CONVERT(uint32_t);
	else if (size == 2)
		NPY_CONVERT(uint16_t);
	else
		NPY_CONVERT(uint8_t);
}
#undef NPY_CONVERT

int
arrays_npy(const unsigned char *p, size_t len, const char *field,
    size_t max, struct codec_array *a, struct codec_error *err)
{
	char		 header[4096], kind = 0;
	const char	*v;
	size_t		 hlen, off, size;
	int		 rc;

	memset(a, 0, sizeof(*a));
	if (len < 10 || memcmp(p, "\x93NUMPY", 6) != 0 || p[6] < 1 ||
	    p[6] > 3) {
		codec_error_set(err, 400, "invalid_field", "%s is not a NumPy"
		    " .npy file (format 1.0 to 3.0)", field);
		return -1;
	}
	hlen = p[6] == 1 ? (size_t)p[8] | (size_t)p[9] << 8 :
	    len < 12 ? SIZE_MAX : (size_t)p[8] | (size_t)p[9] << 8 |
	    (size_t)p[10] << 16 | (size_t)p[11] << 24;
	off = p[6] == 1 ? 10 : 12;
	if (hlen >= sizeof(header) || off + hlen > len) {
		codec_error_set(err, 400, "invalid_field", "%s: the .npy"
		    " header is cut short or too long", field);
		return -1;
	}
	memcpy(header, p + off, hlen);
	header[hlen] = '\0';
	off += hlen;

	if ((v = arrays_npy_key(header, "'descr'")) == NULL || *v++ != '\'' ||
	    (size = arrays_npy_type(v, &kind)) == 0) {
		codec_error_set(err, 400, "invalid_field", "%s: the .npy dtype"
		    " must be little-endian float64, float32 or an integer"
		    " type", field);
		return -1;
	}
	if ((v = arrays_npy_key(header, "'fortran_order'")) == NULL ||
	    strncmp(v, "False", 5) != 0) {
		codec_error_set(err, 400, "invalid_field", "%s: the .npy array"
		    " must be in C order (fortran_order False)", field);
		return -1;
	}
	if ((v = arrays_npy_key(header, "'shape'")) == NULL ||
	    (rc = arrays_npy_shape(v, &a->t, max)) != 0 || a->t.n > max) {
		codec_error_set(err, v && rc == -2 ? 413 : 400, v && rc == -2 ?
		    "too_large" : "invalid_field", "%s: the .npy shape is"
		    " missing, malformed, deeper than %d dimensions or past"
		    " %zu values", field, LOSS_MAX_DIMS, max);
		return -1;
	}
	if (len - off != a->t.n * size) {
		codec_error_set(err, 400, "invalid_field", "%s: the .npy file"
		    " holds %zu bytes of data but its shape needs %zu", field,
		    len - off, a->t.n * size);
		return -1;
	}
	/* float64 in place, when the bytes lie where a double may */
	if (kind == 'f' && size == sizeof(double) &&
	    (uintptr_t)(p + off) % _Alignof(double) == 0) {
		a->data = NULL;
		a->t.data = (const double *)(const void *)(p + off);
		return 0;
	}
	if ((a->data = malloc(a->t.n ? a->t.n * sizeof(double) : 1)) ==
	    NULL) {
		codec_error_set(err, 413, "too_large", "%s does not fit in"
		    " memory", field);
		return -1;
	}
	arrays_npy_convert(p + off, kind, size, a->t.n, a->data);
	a->t.data = a->data;
	return 0;
}
