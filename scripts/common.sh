# scripts/common.sh - the preamble the scripts share; source it first:
#   . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# Strict mode, ROOT = the repository, the working directory there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# kg_build DEFAULT: BUILD (exported, DEFAULT unless set) and BUILD_DIR, its
# absolute path.
kg_build() {
    export BUILD="${BUILD:-$1}"
    if [[ "$BUILD" = /* ]]; then BUILD_DIR="$BUILD"; else BUILD_DIR="$ROOT/$BUILD"; fi
}
