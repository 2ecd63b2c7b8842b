#!/bin/sh
# Regenerates the objects the examples and tests load. Needs gcc (or $CC).
set -e
cd "$(dirname "$0")"
for f in answer libA libB user; do
	"${CC:-gcc}" -c -O2 -fno-asynchronous-unwind-tables -o "$f.o" "$f.c"
done
# host.c reads a variable of the host program, which may be anywhere in the
# address space: -fPIC makes the access go through the GOT (a 64-bit
# pointer) instead of a 32-bit PC-relative displacement.
"${CC:-gcc}" -c -O2 -fPIC -fno-asynchronous-unwind-tables -o host.o host.c
# Typed calls, Go callbacks and Go data (gcc's default PIE code).
for f in calls callback data init; do
	"${CC:-gcc}" -c -O2 -o "$f.o" "$f.c"
done
