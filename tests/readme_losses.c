/*
 * The README's tables of loss types, written from the same catalogue
 * that GET /api/v1/losses answers (codec_losses_json(), from the
 * engine's tables), so that the two cannot disagree.
 *
 *	readme_losses			checks README.md (exit 0 or 1)
 *	readme_losses --update		rewrites its tables in README.md
 *	readme_losses --markdown	prints the tables
 *	readme_losses --json		prints the catalogue as the API does
 *
 * The tables sit between the lines BEGIN_MARK and END_MARK.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec.h"

#define README		TOP_SRCDIR "/README.md"
#define BEGIN_MARK	"<!-- losses: written by `make readme-losses` " \
			"from the engine's tables; do not edit -->\n"
#define END_MARK	"<!-- end of losses -->\n"

/* A growing string. */
struct text {
	char	*s;
	size_t	 len, cap;
};

static void
add(struct text *t, const char *s)
{
	size_t	 n = strlen(s);

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		if ((t->s = realloc(t->s, t->cap)) == NULL) {
			perror("readme_losses");
			exit(2);
		}
	}
	memcpy(t->s + t->len, s, n + 1);
	t->len += n;
}

/* Adds s with its pipes escaped, which would end a table cell. */
static void
add_cell(struct text *t, const char *s)
{
	char	 c[2] = { 0, 0 };

	for (; *s != '\0'; s++) {
		if (*s == '|')
			add(t, "\\");
		c[0] = *s;
		add(t, c);
	}
}

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON	*it = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(it) ? it->valuestring : "";
}

/* A parameter's default as the README shows it. */
static void
add_default(struct text *t, const cJSON *p)
{
	const cJSON	*d = cJSON_GetObjectItemCaseSensitive(p, "default");
	char		*s;

	if (cJSON_IsNull(d)) {
		add(t, "none");
		return;
	}
	s = codec_print((cJSON *)d);
	add(t, s);
	free(s);
}

/* One row of the table of types. */
static void
type_row(struct text *t, const cJSON *loss)
{
	const cJSON	*in, *p;
	const char	*sep = "";

	add(t, "| `");
	add(t, str(loss, "type"));
	add(t, "` | ");
	cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(loss,
	    "inputs")) {
		add(t, sep);
		add(t, "`");
		add(t, str(in, "field"));
		add(t, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in,
		    "required")) ? "`: " : "` (optional): ");
		add_cell(t, str(in, "shape"));
		sep = "; ";
	}
	add(t, " | ");
	sep = "";
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(loss,
	    "params")) {
		add(t, sep);
		add(t, "`");
		add(t, str(p, "name"));
		add(t, "` (");
		add_default(t, p);
		add(t, ")");
		sep = ", ";
	}
	add(t, " | `");
	add_cell(t, str(loss, "formula"));
	add(t, "` |\n");
}

/* The rows of the table of parameters for one type. */
static void
param_rows(struct text *t, const cJSON *loss)
{
	const cJSON	*p, *allowed, *w;
	char		*s;

	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(loss,
	    "params")) {
		add(t, "| `");
		add(t, str(loss, "type"));
		add(t, "` | `");
		add(t, str(p, "name"));
		add(t, "` | ");
		add(t, str(p, "kind"));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p,
		    "option")))
			add(t, ", option");
		add(t, " | ");
		add_default(t, p);
		add(t, " | ");
		allowed = cJSON_GetObjectItemCaseSensitive(p, "allowed");
		if (cJSON_IsArray(allowed)) {
			cJSON_ArrayForEach(w, allowed) {
				s = codec_print((cJSON *)w);
				add(t, s);
				add(t, w->next != NULL ? " or " : "");
				free(s);
			}
		} else
			add_cell(t, str(p, "allowed"));
		add(t, " | ");
		add_cell(t, str(p, "doc"));
		add(t, " |\n");
	}
}

/* The tables, marks included, in a string the caller frees. */
static char *
markdown(void)
{
	struct text	 t = { NULL, 0, 0 };
	cJSON		*doc, *losses, *loss;

	if ((doc = codec_losses_json()) == NULL) {
		fprintf(stderr, "readme_losses: out of memory\n");
		exit(2);
	}
	losses = cJSON_GetObjectItemCaseSensitive(doc, "losses");
	add(&t, BEGIN_MARK);
	add(&t, "| type | inputs | parameters (default) | loss |\n");
	add(&t, "|---|---|---|---|\n");
	cJSON_ArrayForEach(loss, losses)
		type_row(&t, loss);
	add(&t, "\n| type | parameter | kind | default | allowed | "
	    "meaning |\n");
	add(&t, "|---|---|---|---|---|---|\n");
	cJSON_ArrayForEach(loss, losses)
		param_rows(&t, loss);
	add(&t, END_MARK);
	cJSON_Delete(doc);
	return t.s;
}

static char *
read_all(const char *path)
{
	struct text	 t = { NULL, 0, 0 };
	char		 buf[4096];
	size_t		 n;
	FILE		*f;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(2);
	}
	add(&t, "");
	while ((n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
		buf[n] = '\0';
		add(&t, buf);
	}
	fclose(f);
	return t.s;
}

/* Where the tables start and end in the README; exits without them. */
static void
find_block(const char *readme, const char **start, const char **end)
{
	*start = strstr(readme, BEGIN_MARK);
	*end = *start != NULL ? strstr(*start, END_MARK) : NULL;
	if (*end == NULL) {
		fprintf(stderr, "readme_losses: %s lacks the lines\n%s%s",
		    README, BEGIN_MARK, END_MARK);
		exit(1);
	}
	*end += strlen(END_MARK);
}

/* Reports the first line where the README's tables and ours differ. */
static int
check(const char *readme, const char *want)
{
	const char	*start, *end, *a, *b;
	int		 line = 1;

	find_block(readme, &start, &end);
	for (a = start, b = want; a < end && *b != '\0' && *a == *b; a++,
	    b++)
		line += *a == '\n';
	if (a == end && *b == '\0') {
		printf("README.md's tables of losses match the engine's\n");
		return 0;
	}
	while (a > start && a[-1] != '\n')
		a--;
	while (b > want && b[-1] != '\n')
		b--;
	printf("README.md's tables of losses differ from the engine's at "
	    "line %d of the block:\n  README: %.*s\n  engine: %.*s\n"
	    "Run `make readme-losses` to write them again.\n", line,
	    (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
	return 1;
}

static int
update(const char *readme, const char *want)
{
	const char	*start, *end;
	FILE		*f;

	find_block(readme, &start, &end);
	if ((f = fopen(README ".tmp", "w")) == NULL ||
	    fprintf(f, "%.*s%s%s", (int)(start - readme), readme, want,
	    end) < 0 || fclose(f) != 0 || rename(README ".tmp", README)
	    != 0) {
		perror(README);
		return 2;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char	*want = markdown(), *readme, *json;
	cJSON	*doc;
	int	 rc;

	if (argc == 2 && strcmp(argv[1], "--markdown") == 0) {
		fputs(want, stdout);
		rc = 0;
	} else if (argc == 2 && strcmp(argv[1], "--json") == 0) {
		doc = codec_losses_json();
		json = codec_print(doc);
		puts(json);
		free(json);
		cJSON_Delete(doc);
		rc = 0;
	} else if (argc == 1 || (argc == 2 &&
	    strcmp(argv[1], "--update") == 0)) {
		readme = read_all(README);
		rc = argc == 1 ? check(readme, want) : update(readme, want);
		free(readme);
	} else {
		fprintf(stderr, "usage: readme_losses [--update | --markdown "
		    "| --json]\n");
		rc = 2;
	}
	free(want);
	return rc;
}
