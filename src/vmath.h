/*
 * Elementary functions of whole arrays of doubles, for the loss engine.
 *
 * Each sets out[i] to the function of in[i] for i < n (out may be in,
 * not otherwise overlap it).  On an x86-64 CPU with AVX2, where glibc
 * has its vector math library (libmvec), four values are computed at a
 * time by libmvec, to within its 4 ulps; elsewhere one at a time by
 * libm.  Both give libm's answers for NaN, infinities and zeros.  Pure
 * computation, safe from any thread.
 *
 * vmath_vector() tells which: whether these compute several values at
 * a time, so that a caller can keep its one-value-at-a-time code where
 * they do not.
 */
#ifndef LOSSMON_VMATH_H
#define LOSSMON_VMATH_H

#include <stddef.h>

int	vmath_vector(void);
void	vmath_exp(double *, const double *, size_t);
void	vmath_log(double *, const double *, size_t);
void	vmath_log1p(double *, const double *, size_t);
void	vmath_sinh(double *, const double *, size_t);
/* 1 / (1 + exp(-x)), as torch.sigmoid computes it */
void	vmath_sigmoid(double *, const double *, size_t);

#endif
