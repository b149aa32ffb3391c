#!/bin/sh
# Prints the Python interpreter the project's virtual environments are made with, and says on stderr
# which one it chose and why. Order: $PYTHON when set (it must be a supported version); else
# python3.12, the Lambda runtime template.yaml declares, so the tests run the handlers on the
# runtime's Python; else the newest supported version found (3.13, then 3.11), then python3.
# pyenv's installed versions count as found even when pyenv's shims do not select them.
# Usage: scripts/find-python.sh [VERSION]   (VERSION such as 3.13 asks for that version only)
set -eu
SUPPORTED="3.12 3.13 3.11"

version_of() { # the X.Y of a working interpreter with venv, or nothing
  "$1" -c 'import sys, venv; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

candidates() { # interpreter paths for version $1, in order of preference
  if command -v "python$1" >/dev/null 2>&1; then command -v "python$1"; fi
  if command -v pyenv >/dev/null 2>&1; then
    for found in "$(pyenv root)/versions/$1".*/bin/"python$1"; do
      [ -x "$found" ] && echo "$found"
    done | sort -t. -k3 -n -r
  fi
  return 0
}

if [ -n "${PYTHON:-}" ]; then
  version=$(version_of "$PYTHON")
  case " $SUPPORTED " in
    *" $version "*) echo "find-python: using PYTHON=$PYTHON (Python $version)" >&2; echo "$PYTHON"; exit 0 ;;
  esac
  echo "find-python: PYTHON=$PYTHON is not a working Python ($SUPPORTED) with the venv module${version:+: it is $version}" >&2
  exit 1
fi

wanted=${1:-$SUPPORTED}
case " $SUPPORTED " in
  *" $wanted "*) ;;
  *) [ -z "${1:-}" ] || { echo "find-python: Python $1 is not supported (supported: $SUPPORTED)" >&2; exit 1; } ;;
esac
for want in $wanted; do
  for python in $(candidates "$want"); do
    if [ "$(version_of "$python")" = "$want" ]; then
      echo "find-python: using $python (Python $want; preference: $SUPPORTED, or PYTHON=...)" >&2
      echo "$python"
      exit 0
    fi
  done
done
if [ -z "${1:-}" ] && command -v python3 >/dev/null 2>&1; then
  version=$(version_of python3)
  case " $SUPPORTED " in
    *" $version "*) echo "find-python: using python3 (Python $version)" >&2; command -v python3; exit 0 ;;
  esac
fi
echo "find-python: no Python ${wanted} with the venv module found on PATH or in pyenv." >&2
echo "  Install one (Debian/Ubuntu: apt-get install python3.12-venv or python3-venv; or pyenv install 3.12)," >&2
echo "  or name one with PYTHON=/path/to/python3.X." >&2
exit 1
