#!/bin/sh
# Regenerates the seed objects for FuzzNewLinkGraph (and the tests that read
# them) from the sources in this directory. Needs gcc, g++ and GNU as.
set -e
cd "$(dirname "$0")"
gcc -c -O2 -fPIC -o pic.o prog.c
gcc -c -O0 -fno-pic -fno-pie -fcommon -o nopic.o prog.c
gcc -c -O2 -mcmodel=large -fPIC -o large.o prog.c
gcc -c -O2 -fPIC -ffunction-sections -fdata-sections -o sections.o prog.c
g++ -c -O1 -fPIC -o cxx.o cxx.cc
gcc -c -O1 -fPIC -o tls.o tls.c
as -o misc.o misc.s
