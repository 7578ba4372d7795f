#!/usr/bin/env bash
# Make a PostgreSQL server from Debian's packages available on 127.0.0.1:5432 with the role the
# tests use (catalog/catalog, allowed to create and force-drop databases). Idempotent; needs root (CI is root).
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /etc/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='catalog'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE catalog LOGIN CREATEDB PASSWORD 'catalog'\""
# DROP DATABASE ... WITH (FORCE) in the tests' teardown may have to end an autovacuum worker on
# the database, which PostgreSQL allows only to superusers and members of pg_signal_backend.
su postgres -c "psql -qc 'GRANT pg_signal_backend TO catalog'"
echo "PostgreSQL $version ready on 127.0.0.1:5432 (role catalog)"
