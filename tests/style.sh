#!/bin/sh
# Style checks that `make check` runs: C lines of at most 79 columns,
# tabs for indentation, no trailing white space, and every function that
# is not static named with its file's module prefix.
top=${TOP_SRCDIR:-$(dirname "$0")/..}
status=0
files=$(ls "$top"/src/*.c "$top"/src/*.h "$top"/tests/*.c 2>/dev/null |
    grep -v '/schema\.c$')

wide=$(awk 'length > 79 { print FILENAME ":" FNR ": " length " columns" }' \
    $files)
if [ -n "$wide" ]; then
	echo "lines wider than 79 columns:"; echo "$wide"; status=1
fi
trailing=$(grep -n '[[:space:]]$' $files)
if [ -n "$trailing" ]; then
	echo "trailing white space:"; echo "$trailing"; status=1
fi
spaces=$(grep -n '^    ' $files | grep -v '^[^:]*:[0-9]*:    [^ ]' )
if [ -n "$spaces" ]; then
	echo "indented with spaces:"; echo "$spaces"; status=1
fi

# A function definition starts at column 0 after its return type line.
for f in "$top"/src/*.c; do
	mod=$(basename "$f" .c)
	[ "$mod" = main ] && continue
	[ "$mod" = schema ] && continue
	bad=$(awk -v mod="$mod" '
		/^[a-z_][a-z0-9_]*\(/ && prev !~ /static/ && prev !~ /^#/ {
			name = $0; sub(/\(.*/, "", name)
			if (index(name, mod) != 1)
				print FILENAME ":" FNR ": " name
		}
		{ prev = $0 }' "$f")
	if [ -n "$bad" ]; then
		echo "non-static functions without the module prefix:"
		echo "$bad"; status=1
	fi
done
[ $status -eq 0 ] && echo "style: ok"
exit $status
