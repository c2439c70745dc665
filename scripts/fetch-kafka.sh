#!/usr/bin/env bash
# Fetch the Apache Kafka (KRaft) broker jars from Maven Central into
# .cache/kafka/lib for the integration tests (tracker/testing/kafka_cluster.py).
#
# Idempotent: does nothing when the jars of the version pinned in kafka-broker/pom.xml
# are already there. Needs Java 17+ (to run the broker later) and Maven.
#
#   scripts/fetch-kafka.sh            # fetch if missing
#   scripts/fetch-kafka.sh --force    # fetch again
#   KAFKA_LIB_DIR=/some/dir scripts/fetch-kafka.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/kafka-broker/pom.xml"
LIB="${KAFKA_LIB_DIR:-$ROOT/.cache/kafka/lib}"

die() {
    {
        echo
        echo "######################################################################"
        echo "## fetch-kafka.sh FAILED: $*"
        echo "## The Kafka integration tests cannot run without these jars."
        echo "######################################################################"
    } >&2
    exit 1
}

[[ -f "$POM" ]] || die "missing $POM"

VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n 1)"
[[ -n "$VERSION" ]] || die "cannot read <kafka.version> from $POM"
STAMP="$LIB/.complete-$VERSION"

if [[ "${1:-}" != "--force" && -f "$STAMP" && -f "$LIB/kafka_2.13-$VERSION.jar" ]]; then
    echo "Kafka $VERSION jars already in $LIB"
    exit 0
fi

command -v mvn >/dev/null 2>&1 || die "Maven (mvn) not found: install it (e.g. apt-get install maven)"
command -v java >/dev/null 2>&1 || die "java not found: install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)"

echo "Fetching Apache Kafka $VERSION jars into $LIB ..."
mkdir -p "$(dirname "$LIB")"
TMP="$(mktemp -d "${LIB%/}.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
        -DoutputDirectory="$TMP" -DincludeScope=runtime; then
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$VERSION (see the output above)"
fi
[[ -f "$TMP/kafka_2.13-$VERSION.jar" ]] || die "Maven ran but kafka_2.13-$VERSION.jar is not in its output"

# Swap the complete set in, so a half-finished download is never used.
rm -rf "$LIB"
mv "$TMP" "$LIB"
trap - EXIT
chmod 755 "$LIB"
touch "$LIB/.complete-$VERSION"
echo "Kafka $VERSION: $(find "$LIB" -name '*.jar' | wc -l) jars in $LIB"
