/*
 * Elementary functions of arrays: glibc's vector math library (libmvec)
 * where the CPU has AVX2, libm one value at a time elsewhere.
 *
 * This file is the one place that chooses.  The choice is made at run
 * time, so that one build runs on every x86-64 CPU: only the functions
 * marked target("avx2") use AVX2 instructions.  They call libmvec and
 * do no multiplication of their own, so that the compiler has nothing
 * to fuse into an FMA there (which rounds a multiplication and an
 * addition once instead of twice).  The callers' arithmetic stays in
 * the baseline build, with its roundings.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "vmath.h"

#if defined(HAVE_LIBMVEC) && defined(__x86_64__)
#define VMATH_AVX2	1
#include <immintrin.h>

/* libmvec's AVX2 variants (ISA 'd' of the x86-64 vector function ABI:
 * four doubles in a ymm register), which only AVX2 code may call. */
#define AVX2	__attribute__((target("avx2")))
AVX2 __m256d	_ZGVdN4v_exp(__m256d);
AVX2 __m256d	_ZGVdN4v_log(__m256d);
AVX2 __m256d	_ZGVdN4v_log1p(__m256d);
AVX2 __m256d	_ZGVdN4v_sinh(__m256d);
#endif

/*
 * The CPU is asked each time: libgcc reads its features once, at start,
 * so that the test is one load, and nothing needs setting up or
 * guarding between threads.  Valgrind reports AVX2 (but not AVX-512)
 * and runs the AVX2 code; a CPU or an emulator without AVX2 gets libm.
 */
int
vmath_vector(void)
{
#ifdef VMATH_AVX2
	return __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

/* torch's sigmoid, one value at a time. */
static double
sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

/* out[i] = f(in[i]) for i < n, one at a time. */
static inline __attribute__((always_inline)) void
map1(double (*f)(double), double *out, const double *in, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		out[i] = f(in[i]);
}

#ifdef VMATH_AVX2
/* sigmoid, four at a time. */
static inline __attribute__((always_inline, target("avx2"))) __m256d
sigmoid4(__m256d x)
{
	__m256d	 one = _mm256_set1_pd(1.0);

	x = _mm256_xor_pd(x, _mm256_set1_pd(-0.0));
	return _mm256_div_pd(one, _mm256_add_pd(one, _ZGVdN4v_exp(x)));
}

/*
 * out[i] = f(in[i]) for i < n, four at a time.  The last one to three
 * go through f as well, in a vector filled up with ones, so that where
 * a value lies in the array does not change its result.
 */
static inline __attribute__((always_inline, target("avx2"))) void
map4(__m256d (*f)(__m256d), double *out, const double *in, size_t n)
{
	double	 pad[4] = { 1.0, 1.0, 1.0, 1.0 };
	size_t	 i;

	for (i = 0; i + 4 <= n; i += 4)
		_mm256_storeu_pd(out + i, f(_mm256_loadu_pd(in + i)));
	if (i == n)
		return;
	memcpy(pad, in + i, (n - i) * sizeof(double));
	_mm256_storeu_pd(pad, f(_mm256_loadu_pd(pad)));
	memcpy(out + i, pad, (n - i) * sizeof(double));
}

/* Defines vmath_name: f4 four at a time with AVX2, else f1. */
#define VMATH(name, f1, f4)						\
	static __attribute__((target("avx2"))) void			\
	name##_avx2(double *out, const double *in, size_t n)		\
	{								\
		map4(f4, out, in, n);					\
	}								\
									\
	void								\
	vmath_##name(double *out, const double *in, size_t n)	\
	{								\
		if (vmath_vector())					\
			name##_avx2(out, in, n);			\
		else							\
			map1(f1, out, in, n);				\
	}
#else
#define VMATH(name, f1, f4)						\
	void								\
	vmath_##name(double *out, const double *in, size_t n)	\
	{								\
		map1(f1, out, in, n);					\
	}
#endif

VMATH(exp, exp, _ZGVdN4v_exp)
VMATH(log, log, _ZGVdN4v_log)
VMATH(log1p, log1p, _ZGVdN4v_log1p)
VMATH(sinh, sinh, _ZGVdN4v_sinh)
VMATH(sigmoid, sigmoid, sigmoid4)
