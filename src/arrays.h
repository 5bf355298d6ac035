/*
 * The input arrays of a batch, decoded straight into doubles: nested
 * JSON arrays of numbers, read without building a tree (a million
 * numbers would cost cJSON 64 bytes each), and NumPy .npy files.
 */
#ifndef LOSSMON_ARRAYS_H
#define LOSSMON_ARRAYS_H

#include <stddef.h>

#include "codec.h"

/*
 * Reads the JSON array that starts at s[0] ('[') and ends within
 * s[0..len): numbers, or the strings "NaN", "Infinity" and "-Infinity",
 * nested to at most LOSS_MAX_DIMS levels, every array at one depth of
 * one length.  Fills a (a->data is the caller's to free) and sets *used
 * to the bytes read.  Returns 0, or -1 with an error that names field
 * and the element, such as "predictions[3][1] is not a number"; an
 * array of more than max values is a 413.
 */
int	 arrays_json(const char *s, size_t len, const char *field,
	    size_t max, struct codec_array *a, size_t *used,
	    struct codec_error *err);

/*
 * Decodes a NumPy .npy file (format 1.0 to 3.0) of little-endian
 * float64, float32, int64 or int32 in C order, of at most LOSS_MAX_DIMS
 * dimensions and max values.  Returns 0 with a filled, or -1 with an
 * error naming field.  float64 data aligned for doubles are used where
 * they lie, without a copy: a->t.data then points into p (a->data is
 * NULL), and p must outlive a.
 */
int	 arrays_npy(const unsigned char *p, size_t len, const char *field,
	    size_t max, struct codec_array *a, struct codec_error *err);

#endif
