#!/bin/sh
# Attaches a capture folder to the LAVA job: packs it, posts it to ARTIFACTS_URL (LAVA has no
# upload of its own; an artifact server takes `curl -F path=@FILE -F token=TOKEN`, the token
# from the job's secrets) and records the address it answers as the test reference
# "capture". Without ARTIFACTS_URL the capture stays in the test shell and "capture-upload" is skipped.
set -u
folder=$1
if [ ! -d "$folder" ]; then
  lava-test-case capture-upload --result fail
  exit 0
fi
archive="$folder.tar.gz"
tar -czf "$archive" "$folder"
if [ -z "${ARTIFACTS_URL:-}" ]; then
  echo "capture kept at $PWD/$archive (no ARTIFACTS_URL to publish it to)"
  lava-test-case capture-upload --result skip
  exit 0
fi
# The job's secrets (a file named secrets in LAVA's overlay, above this test's folder) hold
# ARTIFACTS_TOKEN; sourced, not passed as a parameter, so the log does not show it.
for d in .. ../.. ../../..; do
  if [ -f "$d/secrets" ]; then . "$d/secrets"; break; fi
done
if url=$(curl -sSf -F "path=@$archive" -F "token=${ARTIFACTS_TOKEN:-}" "$ARTIFACTS_URL"); then
  lava-test-reference capture --result pass --reference "$url"
else
  lava-test-case capture-upload --result fail
fi
