#!/bin/sh
# DEV ONLY (Job minio-setup, minio.yaml): the materials bucket and intake's
# key, allowed only that bucket. Safe to run any number of times.
set -eu

tries=0
until mc ls local >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 90 ]; then
    echo "MinIO at minio:9000 did not answer within 3 minutes" >&2
    exit 1
  fi
  sleep 2
done

mc mb --ignore-existing "local/$BUCKET"
mc admin policy create local bianmin-materials-rw /etc/minio-setup/intake-policy.json
mc admin user add local "$INTAKE_ACCESS_KEY" "$INTAKE_SECRET_KEY"
case "$(mc admin user info local "$INTAKE_ACCESS_KEY")" in
  *bianmin-materials-rw*) echo "policy bianmin-materials-rw already attached to $INTAKE_ACCESS_KEY" ;;
  *) mc admin policy attach local bianmin-materials-rw --user "$INTAKE_ACCESS_KEY" ;;
esac
echo "bucket $BUCKET ready for $INTAKE_ACCESS_KEY"
