#!/bin/sh
# Regenerates src/tflite/schema/ (TypeScript readers/builders for the TFLite
# flatbuffer schema) from ../shared/specs/tflite_schema.fbs with flatc.
# Generated with Debian flatbuffers-compiler 2.0.8 (flatc --version), whose
# parser does not accept `(deprecated)` on enum values, union members and
# tables, so those three attributes are stripped from a temporary copy first
# (field attributes are kept). Relative imports get a `.ts` extension so the
# output compiles under our NodeNext tsconfig and runs under tsx.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
schema=${TFLITE_SCHEMA:-$root/../shared/specs/tflite_schema.fbs}
out=$root/src/tflite/schema
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v flatc >/dev/null || { echo "flatc not found: apt-get install -y flatbuffers-compiler" >&2; exit 1; }
sed -E -e 's/^(\s+[A-Za-z_0-9]+( = [0-9]+)?) \(deprecated\),/\1,/' \
       -e 's/^(table [A-Za-z_0-9]+) \(deprecated\)/\1/' "$schema" > "$tmp/schema.fbs"
flatc --ts -o "$tmp/out" "$tmp/schema.fbs"
rm -rf "$out"
mkdir -p "$out"
cp -r "$tmp/out/tflite" "$out/tflite"
cp "$tmp/out/schema_generated.ts" "$out/index.ts"
# extensionless relative imports -> .ts
find "$out" -name '*.ts' -exec sed -i -E "s#(from '\.{1,2}/[^']+)';#\1.ts';#" {} +
sed -i -E "s#from '\./tflite/#from './tflite/#" "$out/index.ts"
echo "// flatc $(flatc --version | sed 's/flatc version //'), schema $(sha256sum "$schema" | cut -c1-16)" > "$out/VERSION.txt"
echo "generated $(find "$out" -name '*.ts' | wc -l) files into $out"
