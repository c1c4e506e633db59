#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter, or explains in one sentence how to get one.
# Rasa Open Source 3.6 refuses Python 3.11 and newer, so 3.10 is required.
set -u
is310() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }

candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
candidates+=(python3.10)
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -rV); do
    candidates+=("$(pyenv root)/versions/$v/bin/python")
  done
fi
for d in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python /usr/local/bin/python3.10 /usr/bin/python3.10; do
  candidates+=("$d")
done
candidates+=(python3 python)

for c in "${candidates[@]}"; do
  p=$(command -v "$c" 2>/dev/null) || continue
  if is310 "$p"; then echo "$p"; exit 0; fi
done
echo "Small Hours needs Python 3.10 (Rasa 3.6 does not run on 3.11+) and none was found: install it with 'pyenv install 3.10.13' (or your package manager's python3.10), or set PYTHON=/path/to/python3.10, then run make again." >&2
exit 1
