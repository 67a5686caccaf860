#!/bin/sh
# Build tend's .deb and .rpm into dist/ (called by `make package`).
#
#   packaging/build.sh              build a static bin/tend from ./cmd/tend, then package
#   TEND_SKIP_BUILD=1 build.sh      package the bin/tend that is there (must be static)
#   TEND_VERSION=1.2.3 build.sh     override the version taken from git
#
# nfpm is a build tool, not a dependency of tend: `go run pkg@version` fetches it
# through the Go module proxy without touching go.mod.
set -eu

cd "$(dirname "$0")/.."

NFPM="${NFPM:-go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2}"
DIST="${DIST:-dist}"
GOARCH="${GOARCH:-$(go env GOARCH)}"

# Version from git, in a form dpkg and rpm both order correctly:
#   v1.2.3 (tagged commit)      -> 1.2.3
#   v1.2.3-4-gabcdef0           -> 1.2.3+git4.abcdef0   (after 1.2.3)
#   v1.2.3-rc1                  -> 1.2.3~rc1            (before 1.2.3; rpm forbids '-')
#   no tag                      -> 0.0.0~git<sha>       (before any release)
#   no commit yet               -> 0.0.0~gitunknown
git_version() {
    if desc=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
        desc=${desc#v}
        case "$desc" in
            *-*-g*)
                base=${desc%-*-g*}
                rest=${desc#"$base"-}
                desc="$base+git${rest%-g*}.${rest#*-g}" ;;
        esac
        echo "$desc" | sed 's/-/~/g'
    else
        echo "0.0.0~git$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    fi
}
VERSION="${TEND_VERSION:-$(git_version)}"

if [ "${TEND_SKIP_BUILD:-}" != 1 ]; then
    echo "building static bin/tend $VERSION for linux/$GOARCH"
    mkdir -p bin
    CGO_ENABLED=0 GOOS=linux GOARCH="$GOARCH" go build -trimpath \
        -ldflags "-s -w -X main.version=$VERSION" -o bin/tend ./cmd/tend
fi

if [ ! -x bin/tend ]; then
    echo "build.sh: bin/tend is missing: build it, or drop TEND_SKIP_BUILD" >&2
    exit 1
fi
# lintian rejects a dynamic or unstripped binary; catch it here with a clear message.
if command -v file >/dev/null 2>&1; then
    info=$(file -b bin/tend)
    case "$info" in
        *"statically linked"*) ;;
        *) echo "build.sh: bin/tend is not statically linked ($info): build with CGO_ENABLED=0" >&2; exit 1 ;;
    esac
    case "$info" in
        *"not stripped"*|*"with debug_info"*)
            echo "build.sh: bin/tend is not stripped: build with -ldflags '-s -w'" >&2; exit 1 ;;
    esac
fi

mkdir -p "$DIST"
rm -f "$DIST"/tend_*.deb "$DIST"/tend-*.rpm
for packager in deb rpm; do
    TEND_VERSION="$VERSION" TEND_ARCH="$GOARCH" $NFPM package \
        --config packaging/nfpm.yaml --packager "$packager" --target "$DIST/"
done
ls -l "$DIST"
