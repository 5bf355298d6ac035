/* libFuzzer target: request decoding and validation.  The first byte
 * picks the decoder (batch, run, scalars, .npy file), the rest is the
 * body. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "arrays.h"
#include "codec.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct codec_error	 err;
	struct batch_req	 b;
	struct run_spec		 rs;
	struct scalars_req	 s;
	struct codec_array	 a;
	const char		*body = (const char *)data + 1;
	char			*json;

	if (size < 1)
		return 0;
	codec_set_limits(1u << 16, 32);
	switch (data[0] % 4) {
	case 0:
		if (codec_batch(body, size - 1, &b, &err) == 0)
			codec_batch_free(&b);
		break;
	case 1:
		if (codec_run_spec(body, size - 1, &rs, &err) == 0) {
			/* The canonical form must decode again. */
			json = codec_terms_json(rs.terms, rs.nterms);
			free(json);
			codec_run_spec_free(&rs);
		}
		break;
	case 2:
		if (codec_scalars(body, size - 1, &s, &err) == 0)
			codec_scalars_free(&s);
		break;
	default:
		if (arrays_npy(data + 1, size - 1, "predictions", 1u << 16, &a,
		    &err) == 0)
			free(a.data);
		break;
	}
	return 0;
}
