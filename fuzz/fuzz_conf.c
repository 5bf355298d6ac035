/* libFuzzer target: the configuration file parser. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	 c;
	char		*text, err[256];

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (conf_defaults(&c) == 0) {
		conf_parse(&c, text, err, sizeof(err));
		conf_free(&c);
	}
	free(text);
	return 0;
}
