#!/usr/bin/env bash
# Runs LLVM's JITLink, RuntimeDyld and MCJIT regression tests (lit-style
# .s/.yaml/.ll files with RUN lines) against gorc's tools: each RUN line
# runs under bash with llvm-jitlink meaning gorc-jitlink, llvm-rtdyld
# gorc-rtdyld, lli (and %lli) gorc-lli, lli-child-target gorc-executor, and
# the other tools (llvm-mc, FileCheck, not, yaml2obj, llc, split-file) taken
# from LLVM 19, as lit would substitute them. JITLINK=llvm-jitlink-14,
# RTDYLD=llvm-rtdyld-19, LLI=lli-22 LLI_CHILD=lli-child-target-19 run them
# against LLVM's own tools instead. Prints PASS/FAIL per file, the first failing
# command's output, and a count.
#
#   scripts/llvm-jitlink-tests.sh FILE-OR-DIR...
#
# The tests are LLVM's (Apache-2.0 WITH LLVM-exception): fetch them, run
# them from where they lie, do not commit them.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
llvm=${LLVM_BIN:-/usr/lib/llvm-19/bin}
[ -x "$llvm/llvm-mc" ] || { echo "need LLVM tools in $llvm (apt-get install llvm-19)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
# Each LLVM tool a test names is gorc's, unless the variable names another
# (e.g. JITLINK=llvm-jitlink-14 RTDYLD=llvm-rtdyld-19) for a baseline.
for tool in llvm-jitlink:gorc-jitlink:JITLINK llvm-rtdyld:gorc-rtdyld:RTDYLD lli:gorc-lli:LLI lli-child-target:gorc-executor:LLI_CHILD; do
	IFS=: read -r name ours var <<<"$tool"
	if [ -n "${!var:-}" ]; then
		ln -s "$(command -v "${!var}")" "$work/bin/$name"
	else
		(cd "$root" && go build -o "$work/bin/$name" "./cmd/$ours") || exit 2
	fi
done
for t in FileCheck not yaml2obj llvm-objcopy llvm-readobj count llc split-file; do
	[ -x "$llvm/$t" ] && ln -s "$llvm/$t" "$work/bin/$t"
done
# Older versions of the RuntimeDyld tests pass llvm-mc code- and
# relocation-model options it has since dropped (they never changed x86-64
# ELF output): drop them.
cat >"$work/bin/llvm-mc" <<EOF
#!/usr/bin/env bash
args=()
for a in "\$@"; do case \$a in -relocation-model=*|-code-model=*) ;; *) args+=("\$a") ;; esac; done
exec "$llvm/llvm-mc" "\${args[@]}"
EOF
chmod +x "$work/bin/llvm-mc"

files=()
for a in "$@"; do
	if [ -d "$a" ]; then
		while IFS= read -r f; do files+=("$f"); done < <(find "$(realpath "$a")" -path '*/Inputs' -prune -o \( -name '*.s' -o -name '*.yaml' -o -name '*.test' -o -name '*.ll' \) -print | sort)
	else
		files+=("$(realpath "$a")")
	fi
done

pass=0 fail=0 unsupported=0
for f in "${files[@]}"; do
	name=${f#"$PWD/"}
	# Join continued RUN lines, then substitute lit's %s, %t, %T, %/s.
	mapfile -t runs < <(sed -n 's/^.*RUN: *//p' "$f" | awk '{ if (sub(/\\$/, "")) { acc = acc $0 } else { print acc $0; acc = "" } }')
	if [ ${#runs[@]} -eq 0 ]; then continue; fi
	if grep -qE 'REQUIRES:.*(asserts|system-darwin|system-windows)' "$f" || grep -qE 'UNSUPPORTED:.*x86_64-linux|XFAIL: *\*' "$f"; then
		echo "UNSUPPORTED $name ($(grep -hoE '(REQUIRES|UNSUPPORTED|XFAIL):.*' "$f" | head -1))"
		unsupported=$((unsupported + 1))
		continue
	fi
	tmp="$work/t$((pass + fail))"
	mkdir -p "$tmp"
	ok=1
	for r in "${runs[@]}"; do
		cmd=${r//%lli/lli}
		cmd=${cmd//%exeext/}
		# lit names the child by its path; lli does not search PATH for it.
		cmd=${cmd//=lli-child-target/=$work/bin/lli-child-target}
		cmd=${cmd//%\/s/$f}
		cmd=${cmd//%s/$f}
		cmd=${cmd//%\/T/$tmp}
		cmd=${cmd//%T/$tmp}
		cmd=${cmd//%t/$tmp/t}
		cmd=${cmd//%p/$(dirname "$f")}
		cmd=${cmd//%S/$(dirname "$f")}
		if ! out=$(cd "$tmp" && PATH="$work/bin:$PATH" bash -o pipefail -c "$cmd" 2>&1); then
			ok=0
			echo "FAIL $name"
			echo "  \$ $cmd"
			printf '%s\n' "$out" | head -8 | sed 's/^/  | /'
			break
		fi
	done
	if [ $ok = 1 ]; then
		echo "PASS $name"
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done
echo "passed $pass of $((pass + fail)) ($unsupported unsupported)"
[ $fail = 0 ]
